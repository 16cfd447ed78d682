"""The store's exceptions, kept apart so that a command can catch them without loading the store."""

from __future__ import annotations


class StoreError(Exception):
    """A cache, archive or pull problem; the one-line message names the image and the cause.

    `input_error` marks problems with what the user supplied (an archive, a reference, an image
    that is not there) as opposed to failures of the cache or the network.
    """

    def __init__(self, message: str, *, input_error: bool = False) -> None:
        super().__init__(message)
        self.input_error = input_error


class IntegrityError(StoreError):
    """Data that does not match its descriptor, found while it streams into the cache.

    Raised by `BlobSink`; an archive import turns it into an input error (the archive lied)."""


def plain_reason(error: BaseException) -> str:
    """Why an archive or a compressed stream cannot be read, in words rather than the
    library's (`file could not be opened successfully: - method gz: ReadError(...)`)."""
    import gzip
    import tarfile
    import zlib

    text = one_line(error)
    if isinstance(error, EOFError) or "unexpected end of data" in text:
        return "it ends early: the file is truncated"
    if isinstance(error, (zlib.error, gzip.BadGzipFile)) or any(
            sign in text for sign in _CORRUPT_GZIP_SIGNS):
        return "its gzip compression is corrupt"
    if isinstance(error, tarfile.TarError):
        if "empty file" in text:
            return "the file is empty"
        if "could not be opened successfully" in text:
            return "it is not a tar archive (plain, or compressed with gzip, bzip2 or xz)"
        if "header" in text or "checksum" in text:
            return "its tar headers are damaged: the file is truncated or corrupt"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return text


_CORRUPT_GZIP_SIGNS = ("zlib error", "CRC check failed", "Not a gzipped file",
                       "while decompressing", "Invalid deflate")
"""Words of zlib's, ISA-L's and tarfile's messages that mean the compressed stream is damaged
(tarfile wraps the cause in its own `ReadError`, ISA-L raises its own error type)."""


def one_line(error: BaseException) -> str:
    """An exception's message on one line (a source's or tarfile's text may span several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__

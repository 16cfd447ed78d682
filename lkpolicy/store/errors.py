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


def one_line(error: BaseException) -> str:
    """An exception's message on one line (a source's or tarfile's text may span several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__

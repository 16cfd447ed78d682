"""Tar headers read and written the way Go's archive/tar does it.

linuxkit's build is a chain of Go tar readers and writers, and its output bytes depend on Go's
choices: PAX extended headers named `<dir>/PaxHeaders.0/<base>`, records sorted by key,
zero-padded octal fields ending in NUL, an end of two zero blocks and no record padding.
Python's `tarfile` makes other choices, so both directions are done here by hand.

Names and other strings are `str` decoded from UTF-8 with `surrogateescape`, so arbitrary
bytes survive a round trip; lengths are counted in encoded bytes, as Go counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Protocol

from lkpolicy.gocompat import paths as gopath
from lkpolicy.gocompat.numbers import NumError, parse_int

__all__ = [
    "BLOCK",
    "COPY_CHUNK",
    "HEADER_ONLY_TYPES",
    "MAX_SPECIAL_FILE",
    "ZERO_BLOCK",
    "EntryWriter",
    "Readable",
    "TarError",
    "TarHeader",
    "TarWriter",
    "copy_body",
    "decode_text",
    "parse_pax_time",
    "pax_records",
    "writer_pax_data",
]

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
MAX_SPECIAL_FILE = 1 << 20
"""Go's limit on PAX and GNU long-name bodies."""
COPY_CHUNK = 1 << 16

HEADER_ONLY_TYPES = frozenset("123456")
"""Link, symlink, char, block, directory, fifo: Go never reads or writes a body for these."""
_BASIC_KEYS = frozenset({"path", "linkpath", "size", "uid", "gid", "uname", "gname",
                         "mtime", "atime", "ctime"})
_GNU_SPARSE = "GNU.sparse."


class TarError(Exception):
    """A malformed tar stream, or a header Go's writer would refuse."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def decode_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# Headers


@dataclass(slots=True)
class TarHeader:
    """The fields of Go's `tar.Header` that linuxkit's build carries along."""

    name: str
    typeflag: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    mtime_ns: int = 0
    """Sub-second part of the modification time, from a PAX `mtime` record."""
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    atime: tuple[int, int] | None = None
    ctime: tuple[int, int] | None = None
    pax: dict[str, str] = field(default_factory=dict)
    """Go's `PAXRecords`: every record read for this entry, plus any the builder adds."""

    def copy(self, **changes: object) -> TarHeader:
        if changes:
            result = replace(self, **changes)  # type: ignore[arg-type]
            if "pax" not in changes:
                result.pax = dict(self.pax)
            return result
        # The build copies every header it passes on: field by field is ~5x faster.
        return TarHeader(self.name, self.typeflag, self.mode, self.uid, self.gid, self.size,
                         self.mtime, self.mtime_ns, self.linkname, self.uname, self.gname,
                         self.devmajor, self.devminor, self.atime, self.ctime, dict(self.pax))

    @property
    def has_body(self) -> bool:
        return self.typeflag not in HEADER_ONLY_TYPES


def _fits_octal(width: int, value: int) -> bool:
    # Go's fitsInOctal: the field keeps one byte for the NUL terminator.
    return value >= 0 and (width >= 22 or value < 1 << ((width - 1) * 3))


def _is_ascii(text: str) -> bool:
    """ASCII without NUL (Go's isASCII); `str.isascii` runs at C speed on every header."""
    return text.isascii() and "\x00" not in text


def _to_ascii(text: str) -> str:
    if _is_ascii(text):
        return text
    return "".join(char for char in text if 0 < ord(char) < 0x80)


def format_pax_time(seconds: int, nanos: int) -> str:
    if nanos == 0:
        return str(seconds)
    sign = ""
    if seconds < 0:
        sign = "-"
        seconds = -(seconds + 1)
        nanos = -(nanos - 1_000_000_000)
    return f"{sign}{seconds}.{nanos:09d}".rstrip("0")


def parse_pax_time(text: str) -> tuple[int, int]:
    whole, _, fraction = text.partition(".")
    try:
        # Go: strconv.ParseInt(seconds, 10, 64), then nothing but ASCII digits after the dot.
        seconds = parse_int(whole, 10, 64)
    except NumError:
        raise TarError(f"archive/tar: invalid PAX time {text!r}") from None
    if not fraction:
        return seconds, 0
    if not (fraction.isascii() and fraction.isdigit()):
        raise TarError(f"archive/tar: invalid PAX time {text!r}")
    nanos = int(fraction[:9].ljust(9, "0"))
    if whole.startswith("-") and nanos:
        # Go keeps the time on the negative side: -1.5 is 1.5 s before the epoch.
        seconds -= 1
        nanos = 1_000_000_000 - nanos
    return seconds, nanos


def pax_records(header: TarHeader) -> dict[str, str]:
    """The PAX records Go's writer emits for `header` when asked for the PAX format.

    Records for the standard keys are computed from the fields (a name over 100 bytes or not
    ASCII, numbers that do not fit their octal field, sub-second times); a record the header
    already carries for a standard key survives only if it equals the computed value; other
    records (LINUXKIT.*, xattrs) are copied, GNU sparse ones dropped.
    """
    source = header.pax
    records: dict[str, str] = {}

    def text_field(value: str, width: int, key: str) -> None:
        if "\x00" in value and key in ("path", "linkpath", "uname", "gname"):
            raise TarError(f"archive/tar: invalid PAX record: {key} contains NUL")
        # ASCII text is as long in bytes as in characters: no encoding on the hot path.
        if not _is_ascii(value) or len(value) > width:
            records[key] = value
        if source.get(key) == value:
            records[key] = value

    def number_field(value: int, width: int, key: str | None, what: str) -> None:
        if not _fits_octal(width, value):
            if key is None:
                raise TarError(f"archive/tar: header field too long: {what}={value}")
            records[key] = str(value)
        if key is not None and source.get(key) == str(value):
            records[key] = str(value)

    text_field(header.name, 100, "path")
    text_field(header.linkname, 100, "linkpath")
    text_field(header.uname, 32, "uname")
    text_field(header.gname, 32, "gname")
    number_field(header.mode, 8, None, "Mode")
    number_field(header.uid, 8, "uid", "Uid")
    number_field(header.gid, 8, "gid", "Gid")
    number_field(header.size, 12, "size", "Size")
    number_field(header.devmajor, 8, None, "Devmajor")
    number_field(header.devminor, 8, None, "Devminor")
    mtime = format_pax_time(header.mtime, header.mtime_ns)
    if header.mtime_ns or not _fits_octal(12, header.mtime):
        records["mtime"] = mtime
    if source.get("mtime") == mtime:
        records["mtime"] = mtime
    for key, stamp in (("atime", header.atime), ("ctime", header.ctime)):
        if stamp is not None:
            records[key] = format_pax_time(*stamp)
    for key, value in source.items():
        if key in records or key in _BASIC_KEYS or key.startswith(_GNU_SPARSE):
            continue
        if not key or "=" in key or "\x00" in key:
            raise TarError(f"archive/tar: invalid PAX record key {key!r}")
        records[key] = value
    return records


def _pax_record(key: str, value: str) -> bytes:
    body = _encode(f" {key}={value}\n")
    size = len(body) + len(str(len(body)))
    record = str(size).encode() + body
    if len(record) != size:
        record = str(len(record)).encode() + body
    return record


# --------------------------------------------------------------------------------------------
# Writing


def _text_field(text: str, width: int) -> bytes:
    raw = _encode(text)
    if len(raw) <= width:
        return raw + bytes(width - len(raw))
    field = bytearray(raw[:width])
    if raw[width - 1:width] == b"/":
        # Go replaces a trailing slash left by truncation with the NUL terminator.
        field[len(raw[:width - 1].rstrip(b"/"))] = 0
    return bytes(field)


def _octal_field(value: int, width: int) -> bytes:
    if not _fits_octal(width, value):
        value = 0
    return b"%0*o\x00" % (width - 1, value)


_MAGIC = b"ustar\x0000"
_CHECKSUM_BLANK = b" " * 8
_TAIL = bytes(BLOCK - 345)
_EMPTY_DEVICES = bytes(16)


def _ustar_block(name: str, mode: int, uid: int, gid: int, size: int, mtime: int,
                 typeflag: str, linkname: str = "", uname: str = "", gname: str = "",
                 devices: tuple[int, int] | None = None) -> bytes:
    """One header block as Go's writer formats it (USTAR fields, no prefix); the device
    fields stay empty without `devices` (Go leaves them so in PAX extended headers)."""
    head = b"".join((_text_field(name, 100), _octal_field(mode, 8), _octal_field(uid, 8),
                     _octal_field(gid, 8), _octal_field(size, 12), _octal_field(mtime, 12)))
    device_fields = (_EMPTY_DEVICES if devices is None
                     else _octal_field(devices[0], 8) + _octal_field(devices[1], 8))
    tail = b"".join((bytes((ord(typeflag),)), _text_field(linkname, 100), _MAGIC,
                     _text_field(uname, 32), _text_field(gname, 32), device_fields, _TAIL))
    checksum = sum(head) + 256 + sum(tail)
    return head + b"%06o\x00 " % checksum + tail


def writer_pax_data(header: TarHeader) -> bytes:
    """The PAX extended header body Go's `tar.Writer` writes before `header` (empty when it
    writes none), after the checks that writer makes: raises `TarError` where Go's would."""
    if header.typeflag in ("x", "g", "L", "K"):
        raise TarError("archive/tar: cannot manually encode TypeXHeader, TypeGNULongName, "
                       "or TypeGNULongLink headers")
    if header.typeflag in ("0", "3", "4", "6", "S") and header.name.endswith("/"):
        raise TarError("archive/tar: filename may not have trailing slash")
    records = pax_records(header)
    if not records:
        return b""
    data = b"".join(_pax_record(key, records[key]) for key in sorted(records))
    if len(data) > MAX_SPECIAL_FILE:
        raise TarError("archive/tar: header field too long")
    return data


def copy_body(source: Readable, size: int, write: Callable[[bytes], None]) -> None:
    """Pass exactly `size` bytes of `source` to `write`, in chunks."""
    left = size
    while left > 0:
        chunk = source.read(min(left, COPY_CHUNK))
        if not chunk:
            raise TarError("unexpected EOF while copying an entry body")
        write(chunk)
        left -= len(chunk)


class EntryWriter:
    """A writer of build entries (`lkpolicy.assemble.sinks.EntrySink`) that checks headers and body lengths exactly as Go's `tar.Writer` does;
    subclasses say where the entries go (`_start`, `_body`, `_end`, `_close`). Every output
    made from the build stream therefore fails at the same entry, with the same message, as
    the tar linuxkit writes."""

    def __init__(self) -> None:
        self._remaining = 0
        self._closed = False
        self.count = 0
        """Entries written so far."""

    def add(self, header: TarHeader, body: bytes | None = None) -> None:
        self.begin(header)
        if body is not None:
            self.write(body)

    def begin(self, header: TarHeader) -> None:
        self._finish_entry()
        self._start(header, writer_pax_data(header))
        self.count += 1
        self._remaining = header.size if header.has_body else 0

    def write(self, data: bytes) -> None:
        if len(data) > self._remaining:
            raise TarError("archive/tar: write too long")
        self._body(data)
        self._remaining -= len(data)

    def copy_from(self, source: Readable, size: int) -> None:
        """Copy exactly `size` bytes of `source` into the current entry."""
        copy_body(source, size, self.write)

    def _finish_entry(self) -> None:
        if self._remaining:
            raise TarError(f"archive/tar: missed writing {self._remaining} bytes")
        self._end()

    def close(self) -> None:
        if self._closed:
            return
        self._finish_entry()
        self._close()
        self._closed = True

    def _start(self, header: TarHeader, pax_data: bytes) -> None:
        raise NotImplementedError

    def _body(self, data: bytes) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        """The current entry is complete (called before the next one and at the end)."""

    def _close(self) -> None:
        """After the last entry."""


class TarWriter(EntryWriter):
    """Go's `tar.Writer` writing PAX-format headers; bodies are streamed, never buffered."""

    def __init__(self, out: BinaryIO) -> None:
        super().__init__()
        self._out = out
        self._padding = 0

    def _start(self, header: TarHeader, pax_data: bytes) -> None:
        fmt = _to_ascii
        block = _ustar_block(fmt(header.name), header.mode, header.uid, header.gid, header.size,
                             header.mtime, header.typeflag, fmt(header.linkname),
                             fmt(header.uname), fmt(header.gname),
                             (header.devmajor, header.devminor))
        # One write per header, its PAX extended header included.
        self._out.write(self._pax(header.name, pax_data) + block if pax_data else block)
        self._padding = -(header.size if header.has_body else 0) % BLOCK

    @staticmethod
    def _pax(name: str, data: bytes) -> bytes:
        directory, base = gopath.split(name)
        pax_name = _to_ascii(gopath.join(directory, "PaxHeaders.0", base))
        raw = _encode(pax_name)[:100].rstrip(b"/")
        block = _ustar_block(decode_text(raw), 0, 0, 0, len(data), 0, "x")
        return block + data + bytes(-len(data) % BLOCK)

    def _body(self, data: bytes) -> None:
        self._out.write(data)

    def _end(self) -> None:
        if self._padding:
            self._out.write(bytes(self._padding))
            self._padding = 0

    def _close(self) -> None:
        self._out.write(ZERO_BLOCK * 2)


# --------------------------------------------------------------------------------------------

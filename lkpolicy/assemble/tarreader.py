"""Tar archives read the way Go's archive/tar reads them (`tar.Reader`): PAX and GNU headers
merged into the entry they describe, bounded special files, checksums checked as Go does; the
headers and their encoding are `lkpolicy.assemble.tarstream`'s."""

from __future__ import annotations

from lkpolicy.assemble.tarstream import (
    BLOCK,
    COPY_CHUNK,
    HEADER_ONLY_TYPES,
    MAX_SPECIAL_FILE,
    ZERO_BLOCK,
    Readable,
    TarError,
    TarHeader,
    decode_text,
    parse_pax_time,
)
from lkpolicy.gocompat.numbers import NumError, parse_int

__all__ = ["TarReader"]

_HIGH_BYTES = bytes(range(128, 256))



def _read_exact(stream: Readable, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _parse_string(field_bytes: bytes) -> str:
    return decode_text(field_bytes.split(b"\x00", 1)[0])


def _parse_number(field_bytes: bytes) -> int:
    if field_bytes and field_bytes[0] & 0x80:
        # GNU base-256; the top bit of the first byte is the marker, the next one the sign.
        value = int.from_bytes(bytes([field_bytes[0] & 0x7F]) + field_bytes[1:], "big")
        if field_bytes[0] & 0x40:
            value -= 1 << (len(field_bytes) * 8 - 1)
        return value
    text = field_bytes.strip(b" \x00")
    if not text:
        return 0
    # Go reads the field up to its first NUL with strconv.ParseUint(field, 8, 64): octal
    # digits only (int(text, 8) also takes a sign, `0o` and underscores). A field is at most
    # 12 digits, so it is always in range, and this check runs at C speed on every header.
    digits = text.split(b"\x00", 1)[0]
    if digits.translate(None, b"01234567"):
        raise TarError("archive/tar: invalid tar header")
    return int(digits, 8)


def _parse_pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    offset = 0
    while offset < len(data):
        space = data.find(b" ", offset)
        length = _pax_record_length(data[offset:space]) if space >= 0 else 0
        record = data[space + 1:offset + length]
        # A record holds at least its length, a space and a newline (so `offset` advances).
        if (length <= max(space, offset) - offset + 1 or offset + length > len(data)
                or not record.endswith(b"\n")):
            raise TarError("archive/tar: invalid tar header (PAX record)")
        key, equals, value = record[:-1].partition(b"=")
        if not equals or not key:
            raise TarError("archive/tar: invalid tar header (PAX record)")
        records[decode_text(key)] = decode_text(value)
        offset += length
    return records


def _pax_record_length(text: bytes) -> int:
    """Go: strconv.ParseInt(size, 10, 0), so `+12` is a length and `1_2` is not (0 if none)."""
    try:
        return parse_int(text.decode("latin-1"), 10, 64)
    except NumError:
        return 0


class TarReader:
    """Go's `tar.Reader`: PAX, GNU long names, ustar prefixes and v7 headers.

    `next()` returns the following header (None at the end); `read` returns the current
    entry's body. Global PAX headers are returned as entries of type `g`.
    """

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._remaining = 0
        self._padding = 0
        self.ended = False

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > self._remaining:
            size = self._remaining
        if size == 0:
            return b""
        data = self._stream.read(size)
        if not data:
            raise TarError("unexpected EOF in a tar entry body")
        self._remaining -= len(data)
        return data

    def _skip(self, size: int) -> None:
        while size > 0:
            chunk = self._stream.read(min(size, COPY_CHUNK))
            if not chunk:
                raise TarError("unexpected EOF in a tar entry body")
            size -= len(chunk)

    def _special(self, size: int) -> bytes:
        if size > MAX_SPECIAL_FILE:
            raise TarError("archive/tar: header field too long")
        data = _read_exact(self._stream, size)
        if len(data) != size:
            raise TarError("unexpected EOF in a tar header")
        self._skip(-size % BLOCK)
        return data

    def next(self) -> TarHeader | None:
        if self.ended:
            return None
        self._skip(self._remaining + self._padding)
        self._remaining = self._padding = 0
        pax: dict[str, str] = {}
        long_name: str | None = None
        long_link: str | None = None
        while True:
            block = _read_exact(self._stream, BLOCK)
            if not block:
                self.ended = True
                return None
            if len(block) != BLOCK:
                raise TarError("unexpected EOF in a tar header")
            if block == ZERO_BLOCK:
                second = _read_exact(self._stream, BLOCK)
                if second and second != ZERO_BLOCK:
                    raise TarError("archive/tar: invalid tar header (zero block)")
                self.ended = True
                return None
            self._check_sum(block)
            typeflag = chr(block[156]) if block[156] else "\x00"
            size = _parse_number(block[124:136])
            if size < 0:
                raise TarError("archive/tar: invalid tar header (negative size)")
            if typeflag in ("x", "g"):
                records = _parse_pax(self._special(size))
                if typeflag == "g":
                    return TarHeader(_parse_string(block[0:100]), "g", pax=records)
                pax = records
                continue
            if typeflag in ("L", "K"):
                text = decode_text(self._special(size).split(b"\x00", 1)[0])
                if typeflag == "L":
                    long_name = text
                else:
                    long_link = text
                continue
            header = self._header(block, typeflag, size)
            self._merge_pax(header, pax)
            if long_name is not None:
                header.name = long_name
            if long_link is not None:
                header.linkname = long_link
            if header.typeflag == "\x00":
                header.typeflag = "5" if header.name.endswith("/") else "0"
            body = 0 if header.typeflag in HEADER_ONLY_TYPES else header.size
            if body < 0:
                raise TarError("archive/tar: invalid tar header (negative size)")
            self._remaining = body
            self._padding = -body % BLOCK
            return header

    @staticmethod
    def _check_sum(block: bytes) -> None:
        stored = _parse_number(block[148:156])
        # The checksum field counts as eight spaces (8 * 32 = 256).
        unsigned = sum(block[:148]) + 256 + sum(block[156:])
        if stored == unsigned:
            return
        # Go also accepts the signed sum (old tar writers): each byte over 127 counts 256 less.
        high = BLOCK - 8 - len((block[:148] + block[156:]).translate(None, _HIGH_BYTES))
        if stored != unsigned - 256 * high:
            raise TarError("archive/tar: invalid tar header (checksum)")

    @staticmethod
    def _header(block: bytes, typeflag: str, size: int) -> TarHeader:
        magic = block[257:265]
        header = TarHeader(
            name=_parse_string(block[0:100]), typeflag=typeflag,
            mode=_parse_number(block[100:108]), uid=_parse_number(block[108:116]),
            gid=_parse_number(block[116:124]), size=size, mtime=_parse_number(block[136:148]),
            linkname=_parse_string(block[157:257]))
        if magic in (b"ustar\x0000", b"ustar  \x00"):
            header.uname = _parse_string(block[265:297])
            header.gname = _parse_string(block[297:329])
            header.devmajor = _parse_number(block[329:337])
            header.devminor = _parse_number(block[337:345])
        if magic == b"ustar\x0000":
            prefix = _parse_string(block[345:500])
            if prefix:
                header.name = prefix + "/" + header.name
        elif magic == b"ustar  \x00":
            if block[345]:
                header.atime = (_parse_number(block[345:357]), 0)
            if block[357]:
                header.ctime = (_parse_number(block[357:369]), 0)
        return header

    @staticmethod
    def _merge_pax(header: TarHeader, records: dict[str, str]) -> None:
        for key, value in records.items():
            if not value:
                continue
            try:
                if key == "path":
                    header.name = value
                elif key == "linkpath":
                    header.linkname = value
                elif key == "uname":
                    header.uname = value
                elif key == "gname":
                    header.gname = value
                elif key == "uid":
                    header.uid = int(value, 10)
                elif key == "gid":
                    header.gid = int(value, 10)
                elif key == "size":
                    header.size = int(value, 10)
                elif key == "mtime":
                    header.mtime, header.mtime_ns = parse_pax_time(value)
                elif key == "atime":
                    header.atime = parse_pax_time(value)
                elif key == "ctime":
                    header.ctime = parse_pax_time(value)
            except ValueError:
                raise TarError(f"archive/tar: invalid PAX record {key}={value!r}") from None
        header.pax = dict(records)

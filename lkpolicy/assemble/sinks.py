"""Where the build stream goes: the interface of Go's `tar.Writer`, and a fan-out to two of
them.

`build_tar` writes entries into one `EntrySink`: the tar file (`tarstream.TarWriter`), the
initrd converter (`initrd.InitrdWriter`), or both through `TeeSink`, so that a format that does
not need the tar never writes it to disk and reads it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from lkpolicy.assemble.tarstream import copy_body

if TYPE_CHECKING:
    from lkpolicy.assemble.tarstream import Readable, TarHeader

__all__ = ["EntrySink", "TeeSink"]


class EntrySink(Protocol):
    """Go's `tar.Writer` as the build uses it; `count` is the number of entries begun."""

    @property
    def count(self) -> int: ...

    def add(self, header: TarHeader, body: bytes | None = None) -> None: ...

    def begin(self, header: TarHeader) -> None: ...

    def write(self, data: bytes) -> None: ...

    def copy_from(self, source: Readable, size: int) -> None: ...

    def close(self) -> None: ...


class TeeSink:
    """Every entry to two sinks (the tar file and the initrd, when both are wanted)."""

    def __init__(self, first: EntrySink, second: EntrySink) -> None:
        self._sinks = (first, second)

    @property
    def count(self) -> int:
        return self._sinks[0].count

    def add(self, header: TarHeader, body: bytes | None = None) -> None:
        for sink in self._sinks:
            sink.add(header, body)

    def begin(self, header: TarHeader) -> None:
        for sink in self._sinks:
            sink.begin(header)

    def write(self, data: bytes) -> None:
        for sink in self._sinks:
            sink.write(data)

    def copy_from(self, source: Readable, size: int) -> None:
        copy_body(source, size, self.write)

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()

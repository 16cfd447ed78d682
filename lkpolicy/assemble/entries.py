"""The pieces every section of the build's tar stream shares: linuxkit's timestamp, entry
headers with their `LINUXKIT.source`/`LINUXKIT.location` records, and the build's error."""

from __future__ import annotations

from lkpolicy.assemble.tarstream import TarHeader

__all__ = ["DEFAULT_MTIME", "LOCATION_RECORD", "SOURCE_RECORD", "BuildError", "dir_header", "file_header", "symlink_header"]

DEFAULT_MTIME = 1492533000
"""2017-04-18 16:30:00 UTC, linuxkit's timestamp for everything it synthesises."""
SOURCE_RECORD = "LINUXKIT.source"
"""The PAX record naming what an entry came from (an image, `linuxkit.files`, ...)."""
LOCATION_RECORD = "LINUXKIT.location"
"""The PAX record naming where in the config it was asked for."""


class BuildError(Exception):
    """The build failed; the message is linuxkit's (printed after `Error: `)."""



def dir_header(name: str, source: str, location: str, *, mode: int = 0o755, uid: int = 0,
         gid: int = 0) -> TarHeader:
    return TarHeader(name, "5", mode=mode, uid=uid, gid=gid, mtime=DEFAULT_MTIME,
                     pax={LOCATION_RECORD: location, SOURCE_RECORD: source})


def file_header(name: str, size: int, source: str, location: str, *, mode: int = 0o644,
          uid: int = 0, gid: int = 0, mtime: int = DEFAULT_MTIME) -> TarHeader:
    return TarHeader(name, "0", mode=mode, uid=uid, gid=gid, size=size, mtime=mtime,
                     pax={LOCATION_RECORD: location, SOURCE_RECORD: source})


def symlink_header(name: str, target: str, source: str, location: str, *, mode: int,
             uid: int = 0, gid: int = 0) -> TarHeader:
    return TarHeader(name, "2", mode=mode, uid=uid, gid=gid, mtime=DEFAULT_MTIME,
                     linkname=target, pax={LOCATION_RECORD: location, SOURCE_RECORD: source})

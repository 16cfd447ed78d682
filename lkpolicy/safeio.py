"""Reading untrusted files and JSON within bounds, and writing files that readers never see
half-written.

Every reader of a config, policy, lock, baseline, key, image cache entry or server answer goes
through here, so that a FIFO, a device, a huge file, JSON nested thousands deep or a number
with thousands of digits becomes one plain `UntrustedInput` sentence instead of a hang, a
MemoryError or a traceback.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_MAX_JSON_DEPTH = 64
"""Deeper than any OCI manifest, index, image config, lock, baseline or TUF/notary document."""


MAX_TRUST_FILE_BYTES = 4 * 1024 * 1024
"""Keys, certificates, TUF and sigstore roots are a few KiB, a CA bundle a few hundred: more
is not trust material (and `/dev/zero` would never end)."""


class UntrustedInput(ValueError):
    """Input refused before or while it was read; `str()` is one plain sentence without the
    input's content."""


class NotRegularFile(UntrustedInput):
    """A FIFO, socket, device or directory where a file was expected."""


class TooLarge(UntrustedInput):
    """More bytes than the reader's bound."""


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `max_bytes` (else `TooLarge`).

    FIFOs, sockets and devices (`NotRegularFile`) are refused before they are opened (reading one could block
    forever or never end); the check is repeated on the open descriptor, so swapping the path
    for a FIFO in between does not help. OSError propagates for the caller to word."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(f"{what} {os.fspath(path)} is not a regular file "
                             f"({_kind(info.st_mode)})")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise NotRegularFile(f"{what} {os.fspath(path)} is not a regular file")
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(f"{what} {os.fspath(path)} is larger than {_size(max_bytes)}")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def _size(count: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= factor and count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UntrustedInput(f"the number {text[:20]}... is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise UntrustedInput(f"{name} is not a JSON number")


def parse_json(data: bytes | str, what: str, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH,
               object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
               parse_float: Callable[[str], Any] | None = None) -> Any:
    """JSON from an untrusted source: UTF-8, finite numbers, integers of Python's default
    digit limit, nesting of at most `max_depth`. Size is the caller's bound (read it with
    `read_regular_file` or a bounded network read). `parse_float` replaces the finite-float
    check (canonical JSON keeps fractions apart). Raises `UntrustedInput` naming `what`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_float=parse_float or _finite_float,
                           parse_constant=_no_constant, object_pairs_hook=object_pairs_hook)
    except UntrustedInput as error:
        raise UntrustedInput(f"{what}: {error}") from None
    except RecursionError:
        raise UntrustedInput(f"{what}: JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise UntrustedInput(f"{what}: not UTF-8") from None
    except ValueError as error:
        if "digits" in str(error):
            raise UntrustedInput(f"{what}: a number has too many digits") from None
        raise UntrustedInput(f"{what}: not valid JSON ({_json_reason(error)})") from None
    if _depth_exceeds(value, max_depth):
        raise UntrustedInput(f"{what}: JSON nested deeper than {max_depth} levels")
    return value


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An `object_pairs_hook` for `parse_json` that refuses an object with a key twice: two
    parsers must not read two different claims from one signed document."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:40]!r}")
        result[key] = value
    return result


def _json_reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return str(error).split("\n", 1)[0][:200]


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Iterative, so that the check itself cannot overflow the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        pending.extend((child, depth + 1) for child in children
                       if isinstance(child, dict | list))
    return False


def bounded_int(value: Any, what: str, *, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    """An integer field of untrusted JSON (a size, a version), range-checked; bools refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UntrustedInput(f"{what} must be an integer")
    if not minimum <= value <= maximum:
        raise UntrustedInput(f"{what} is out of range ({minimum} to {maximum})")
    return value


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    import tempfile  # writers only: `check` reads far more often than it writes

    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)

"""Typed readers for the fields of untrusted Notary metadata.

Each reader takes a decoded JSON value, the role it came from and what it is (for the message),
and returns the value in the type the verifier needs or raises `MalformedMetadata`: the callers
never see a value of the wrong type, and every message names the role and the field.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any

from lkpolicy.stages.trust.errors import MalformedMetadata, MetadataTooLarge

_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                   r"([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(value: object, role: str = "metadata") -> dt.datetime:
    """Parse Go's RFC 3339 (nano) form; fractions beyond microseconds are truncated."""
    if not isinstance(value, str):
        raise MalformedMetadata(role, "expires is not a string")
    match = _TIME.match(value)
    if not match:
        raise MalformedMetadata(role, f"expires {value[:64]!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone in ("Z", "z"):
        tz = dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        if offset >= dt.timedelta(hours=24):
            raise MalformedMetadata(role, f"expires {value!r} has an impossible offset")
        tz = dt.timezone(sign * offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                           micro, tzinfo=tz).astimezone(dt.UTC)
    except ValueError as error:
        raise MalformedMetadata(role, f"expires {value!r}: {error}") from None


def base64_field(value: object, role: str, what: str) -> bytes:
    """Standard base64 (padded, no stray characters), decoded."""
    if not isinstance(value, str):
        raise MalformedMetadata(role, f"{what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMetadata(role, f"{what} is not valid base64") from None


def object_field(value: object, role: str, what: str) -> dict[str, Any]:
    """A JSON object."""
    if not isinstance(value, dict):
        raise MalformedMetadata(role, f"{what} is not an object")
    return value


def int_field(value: object, role: str, what: str, minimum: int = 0) -> int:
    """A JSON integer (not a boolean) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MalformedMetadata(role, f"{what} is not an integer >= {minimum}")
    return value


def str_list_field(value: object, role: str, what: str) -> list[str]:
    """A JSON list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedMetadata(role, f"{what} is not a list of strings")
    return value


def check_size(role: str, data: bytes, limit: int) -> None:
    """Raw bytes of a role within its size limit (before anything parses them)."""
    if len(data) > limit:
        raise MetadataTooLarge(role, f"{len(data)} bytes exceed the limit of {limit} bytes")


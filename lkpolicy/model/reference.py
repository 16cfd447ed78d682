"""Image references, parsed and normalised exactly as linuxkit does; every stage uses this module.

linuxkit expands short names (`util/reference.go`) and then parses with containerd's permissive
`reference.Parse`, which treats `dummy://<ref>` as a URL. The expanded string form is linuxkit's
key for everything: the cache lookup, the PAX `LINUXKIT.source` record, "same image already
extracted". A separate, strict check tells whether a registry would accept the name at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from lkpolicy.gocompat import paths as gopath
from lkpolicy.gocompat.quoting import quote

DEFAULT_REGISTRY = "docker.io"

# The distribution/reference grammar, which registries enforce.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_MAX_NAME_LENGTH = 255

# Characters Go's net/url accepts unescaped in a host (`shouldEscape` in encodeHost mode).
_HOST_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]<>\"%"
)
_USERINFO_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@"
)


class ReferenceError(ValueError):
    """The reference fails linuxkit's parse; the message is linuxkit's."""


def expand(reference: str) -> str:
    """linuxkit's short-name expansion (`util.ReferenceExpand`)."""
    parts = reference.split("/")
    if len(parts) == 1:
        return f"{DEFAULT_REGISTRY}/library/{reference}"
    if len(parts) == 2:
        first = parts[0]
        if "." not in first and ":" not in first and first != "localhost":
            return f"{DEFAULT_REGISTRY}/{reference}"
    return reference


@dataclass(frozen=True, slots=True)
class ImageRef:
    original: str
    """The string as written in the config."""
    locator: str
    """Registry host and repository path, e.g. `docker.io/linuxkit/init`."""
    tag: str | None
    digest: str | None

    @property
    def expanded(self) -> str:
        """The string form linuxkit uses as its key: `<locator>[:tag][@digest]`."""
        text = self.locator
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def registry(self) -> str:
        return self.locator.split("/", 1)[0]

    @property
    def repository(self) -> str:
        """The path inside the registry, e.g. `linuxkit/init` or `library/busybox`."""
        return self.locator.split("/", 1)[1] if "/" in self.locator else ""

    @property
    def pinned(self) -> bool:
        return self.digest is not None and bool(_SHA256_RE.match(self.digest))

    @property
    def name(self) -> str:
        """Locator plus tag, without the digest: the name that trust data signs."""
        return self.locator + (f":{self.tag}" if self.tag is not None else "")

    def with_digest(self, digest: str) -> str:
        """The pinned form `name:tag@sha256:...` of the reference as the user wrote it."""
        base = self.original.split("@", 1)[0]
        return f"{base}@{digest}"

    def registry_problems(self) -> list[str]:
        """Why a registry would refuse this reference (linuxkit only finds out when pulling)."""
        problems: list[str] = []
        domain, _, path = self.locator.partition("/")
        if not _DOMAIN_RE.match(domain):
            problems.append(f"`{domain}` is not a valid registry host")
        if not path or not _PATH_RE.match(path):
            if path != path.lower():
                problems.append("repository names must be lower case")
            elif any(ch.isspace() for ch in path):
                problems.append("repository names cannot contain white space")
            else:
                problems.append(f"`{path}` is not a valid repository path")
        if len(self.locator) > _MAX_NAME_LENGTH:
            problems.append(f"the name is longer than {_MAX_NAME_LENGTH} characters")
        if self.tag is not None and not _TAG_RE.match(self.tag):
            problems.append(f"`{self.tag}` is not a valid tag")
        if self.digest is not None and not _DIGEST_RE.match(self.digest):
            problems.append(f"`{self.digest}` is not a valid digest")
        return problems


def parse(reference: str) -> ImageRef:
    """Expand and parse as linuxkit does; raises `ReferenceError` with linuxkit's message."""
    expanded = expand(reference)
    locator, obj = _containerd_parse(expanded)
    tag: str | None = None
    digest: str | None = None
    if obj:
        if "@" in obj:
            tag_part, _, digest = obj.partition("@")
            tag = tag_part or None
        else:
            tag = obj
    return ImageRef(reference, locator, tag, digest)


def _containerd_parse(text: str) -> tuple[str, str]:
    """containerd `reference.Parse`: `dummy://<text>` as a Go URL; locator = host + clean path."""
    if "://" in text:
        raise ReferenceError("invalid reference")
    url = "dummy://" + text
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ReferenceError(f"parse {quote(url)}: net/url: invalid control character in URL")
    rest = url[len("dummy://"):]
    rest = rest.split("#", 1)[0]
    rest = rest.split("?", 1)[0]
    slash = rest.find("/")
    authority, raw_path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    host = _parse_authority(url, authority)
    try:
        path = _go_unescape(raw_path)
    except ValueError as error:
        raise ReferenceError(f"parse {quote(url)}: {error}") from None
    if not host:
        raise ReferenceError("hostname required")
    obj = ""
    match = re.search(r"[:@]", path)
    if match:
        obj = path[match.start():]
        if obj.startswith(":"):
            obj = obj[1:]
        path = path[: match.start()]
    return gopath.join(host, path), obj


def _parse_authority(url: str, authority: str) -> str:
    at = authority.rfind("@")
    if at >= 0:
        userinfo = authority[:at]
        if any(ch not in _USERINFO_SAFE and ord(ch) < 0x80 for ch in userinfo):
            raise ReferenceError(f"parse {quote(url)}: net/url: invalid userinfo")
        host = authority[at + 1:]
    else:
        host = authority
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ReferenceError(f"parse {quote(url)}: missing ']' in host")
        port = host[end + 1:]
        if port and not _valid_optional_port(port):
            raise ReferenceError(f"parse {quote(url)}: invalid port {quote(port)} after host")
    else:
        colon = host.rfind(":")
        if colon >= 0 and not _valid_optional_port(host[colon:]):
            raise ReferenceError(
                f"parse {quote(url)}: invalid port {quote(host[colon:])} after host")
    for ch in host:
        if ord(ch) < 0x80 and ch not in _HOST_SAFE:
            raise ReferenceError(f"parse {quote(url)}: invalid character {quote(ch)} in host name")
    try:
        return _go_unescape(host)
    except ValueError as error:
        raise ReferenceError(f"parse {quote(url)}: {error}") from None


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    if not port.startswith(":"):
        return False
    return all(ch.isdigit() and ch.isascii() for ch in port[1:])


def _go_unescape(text: str) -> str:
    index = 0
    while True:
        index = text.find("%", index)
        if index < 0:
            break
        escape = text[index:index + 3]
        if len(escape) < 3 or any(ch not in "0123456789abcdefABCDEF" for ch in escape[1:]):
            raise ValueError(f"invalid URL escape {quote(escape)}")
        index += 3
    return unquote(text) if "%" in text else text


def parse_or_none(value: object) -> ImageRef | None:
    """The parsed reference, or None for anything that is not a valid reference string (the
    lint stage reports those; later stages skip them)."""
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except ReferenceError:
        return None

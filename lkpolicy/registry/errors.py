"""The one exception the registry client raises."""

from __future__ import annotations

import re

from lkpolicy.redaction import redact_secrets

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")
_MAX_CAUSE = 300


def clean_text(text: str, limit: int = _MAX_CAUSE) -> str:
    """Registry-supplied text ends up in one terminal line: no control characters, bounded length."""
    text = _UNPRINTABLE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RegistryError(Exception):
    """Fetching from a registry failed; `str()` is one line: `<image as written>: <cause>`.

    `status` is the HTTP status when the registry answered with an error, else None. The cause
    never contains credentials or tokens (whatever a server echoed is redacted here, before the
    cause is shortened): callers may print it as is.
    """

    def __init__(self, image: str, cause: str, status: int | None = None) -> None:
        self.image = image
        self.cause = clean_text(redact_secrets(cause))
        self.status = status
        super().__init__(f"{image}: {self.cause}")

    def __reduce__(self) -> tuple[type[RegistryError], tuple[str, str, int | None]]:
        # Keeps the error intact when it crosses a process pool.
        return (type(self), (self.image, self.cause, self.status))

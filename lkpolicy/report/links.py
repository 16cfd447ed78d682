"""Links from reports to the rule reference (`docs/rules.md`, generated from the catalogue).

SARIF viewers link each alert to its rule's `helpUri`, and the tool to its `informationUri`.
Both come from one URL of the rule reference on the web: `check --docs-url URL`, else the
installed package's metadata, the `Rules` entry of `[project.urls]` in pyproject.toml. Without
either, the links are left out rather than guessed, and so is a metadata URL on a reserved
`.invalid` host: the placeholder that pyproject.toml holds until the project has a home.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

METADATA_LABELS = ("rules", "rule reference")
"""`[project.urls]` labels (case-insensitive) that name the rule reference."""
PLACEHOLDER_SUFFIX = ".invalid"
"""The reserved top-level domain (RFC 2606) of placeholder project URLs."""


def check_docs_url(url: str) -> str:
    """`url` without its fragment, or ValueError: it must be an absolute http(s) URL."""
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise ValueError("the docs URL contains white space or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the docs URL must be an absolute http(s) URL, not {url!r}")
    return urlunsplit(parts._replace(fragment=""))


def metadata_docs_url(distribution: str = "lkpolicy") -> str | None:
    """The `Rules` project URL of the installed distribution, when it has a usable one."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        entries = metadata(distribution).get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    return docs_url_from_project_urls(entries)


def docs_url_from_project_urls(entries: list[str]) -> str | None:
    """The first usable `Label, URL` entry (core metadata's Project-URL) with a rules label."""
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() in METADATA_LABELS:
            try:
                checked = check_docs_url(url.strip())
            except ValueError:
                continue
            host = (urlsplit(checked).hostname or "").rstrip(".")
            if not host.endswith(PLACEHOLDER_SUFFIX):
                return checked
    return None


def rule_help_uri(docs_url: str, rule_id: str) -> str:
    """The rule's section in the reference: headings `## LK201` get the anchor `#lk201`."""
    return f"{docs_url}#{rule_id.lower()}"

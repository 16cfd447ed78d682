"""Identities of findings that survive edits elsewhere in the file.

A fingerprint hashes the rule, the file and a *structural key* of the node, never the line or
the message: adding a comment above a finding, or rewording a message in a new release, must
not make code scanning (or a baseline) see a new finding and lose the old one's triage state.

The structural key is the finding's JSON pointer with every list index replaced by what the
list element is called (`fingerprint-key v2`): `/services/3/capabilities/0` becomes
`/services/=getty/capabilities/=CAP_SYS_ADMIN`. Inserting a service above `getty` shifts the
indexes, not the names, so the identities stay. An element is called by

* the `name` of a mapping (containers, volumes), else its `path` (files), else its
  `destination` (mounts);
* its value for a string (capabilities, binds, command words); the entries of the top-level
  `init` list by their repository, so that bumping a tag or a digest keeps the identity;
* its index (`#3`) when it has no name (numbers, nameless mappings), as before.

A name that several siblings share gets `#N` from its second occurrence on, in list order.
Version 1 (`lkpolicy/v1`) hashed the raw pointer; baselines of that version are still read.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lkpolicy.model.document import escape_pointer_token, split_pointer
from lkpolicy.model.findings import Finding

if TYPE_CHECKING:
    from lkpolicy.model.document import Document

FINGERPRINT_KEY = "lkpolicy/v2"
"""The SARIF `partialFingerprints` key; bump the version whenever the hashed input changes."""
LEGACY_FINGERPRINT_KEY = "lkpolicy/v1"
"""Raw JSON pointers (list indexes) instead of structural keys; read in old baselines only."""

_IDENTITY_KEYS = ("name", "path", "destination")
_IMAGE_LISTS = frozenset({"/init"})
"""Lists whose string entries are image references, named by their repository."""


def normalize_path(path: str) -> str:
    """`./a.yml`, `a.yml` and (on Windows) `.\\a.yml` name one file and must hash the same."""
    if os.sep != "/":
        path = path.replace(os.sep, "/")
    if os.altsep and os.altsep != "/":
        path = path.replace(os.altsep, "/")
    return posixpath.normpath(path) if path else path


def fingerprint(rule_id: str, file: str, key: str) -> str:
    """The hash of one identity; `key` is a structural key (v2) or a raw pointer (v1)."""
    # Rule IDs and paths cannot contain NUL and the key comes last, so distinct triples
    # never hash the same input.
    payload = "\0".join((rule_id, normalize_path(file), key))
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def image_repository(reference: str) -> str:
    """`docker.io/linuxkit/init:v1@sha256:...` -> `docker.io/linuxkit/init` (textually)."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _element_name(element: Any, in_image_list: bool) -> str | None:
    if isinstance(element, dict):
        for key in _IDENTITY_KEYS:
            value = element.get(key)
            if isinstance(value, str) and value:
                return value
        return None
    if isinstance(element, str):
        return image_repository(element) if in_image_list else element
    return None


def list_tokens(items: list[Any], in_image_list: bool = False) -> list[str]:
    """The key token of each element of a list, in order (unescaped)."""
    tokens: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        name = _element_name(item, in_image_list)
        if name is None:
            tokens.append(f"#{index}")
            continue
        # Only earlier siblings count, so appending an element never renames an existing one.
        seen[name] = seen.get(name, 0) + 1
        tokens.append(f"={name}" if seen[name] == 1 else f"={name}#{seen[name]}")
    return tokens


def structural_key(pointer: str, data: Any, cache: dict[int, list[str]] | None = None) -> str:
    """`pointer` with list indexes replaced by element names, walking `data` (see above).

    Past the end of `data` (a finding about a missing key) the pointer's tokens are kept.
    `cache` keeps the tokens of each list (by identity) across calls on the same data.
    """
    cache = {} if cache is None else cache
    parts: list[str] = []
    node = data
    walked = ""
    for token in split_pointer(pointer):
        if isinstance(node, list) and token.isascii() and token.isdigit() \
                and int(token) < len(node):
            tokens = cache.get(id(node))
            if tokens is None:
                tokens = cache[id(node)] = list_tokens(node, walked in _IMAGE_LISTS)
            parts.append(escape_pointer_token(tokens[int(token)]))
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            parts.append(escape_pointer_token(token))
            node = node[token]
        else:
            parts.append(escape_pointer_token(token))
            node = None
        walked += "/" + escape_pointer_token(token)
    return "".join("/" + part for part in parts)


def document_keys(findings: Iterable[Finding], document: Document) -> dict[str, str]:
    """Pointer -> structural key of each finding about `document` (which has its data): what
    the result cache keeps, so that a replayed document (`Document.structural_keys`) gives the
    same keys without being parsed again."""
    tokens: dict[int, list[str]] = {}
    return {finding.pointer: structural_key(finding.pointer, document.data, tokens)
            for finding in findings if finding.location.file == document.path}


class StructuralKeys:
    """Structural keys for findings, from the documents the findings are about.

    A document replayed from the result cache has no data (only its text): the keys it was
    stored with are used, and it is parsed again here, once, only for a pointer they lack.
    With `documents=None` each file is read from disk instead (for callers that hold findings
    only). Without a document (an unreadable file) the raw pointer is the key.
    """

    def __init__(self, documents: Mapping[str, Document] | None) -> None:
        self._documents = documents
        self._data: dict[str, Any] = {}
        self._tokens: dict[int, list[str]] = {}

    def data(self, path: str) -> Any:
        if path not in self._data:
            self._data[path] = self._load(path)
        return self._data[path]

    def _load(self, path: str) -> Any:
        document = None if self._documents is None else self._documents.get(path)
        if document is not None and document.data is not None:
            return document.data
        if document is not None:
            data = _parse(path, document.text.encode("utf-8", "surrogatepass"))
            if data is not None:
                return data
        # No document given, or the cached text of one in another encoding than UTF-8.
        return None if path == "-" or (self._documents is not None and document is None) \
            else _parse(path, None)

    def key(self, finding: Finding) -> str:
        if not finding.pointer:
            return ""  # the whole document: no list index to name
        path = finding.location.file
        document = None if self._documents is None else self._documents.get(path)
        if document is not None and document.data is None and document.structural_keys:
            known = document.structural_keys.get(finding.pointer)
            if known is not None:
                return known
        return structural_key(finding.pointer, self.data(path), self._tokens)


def _parse(path: str, raw: bytes | None) -> Any:
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.load import load_document

    try:
        return load_document(path, raw)[0].data
    except InputError:
        return None


def finding_fingerprint(finding: Finding, keys: StructuralKeys, file: str | None = None) -> str:
    """`file` overrides the finding's path (SARIF and baselines hash a relative spelling)."""
    return fingerprint(finding.rule_id, finding.location.file if file is None else file,
                       keys.key(finding))


def number_repeats(bases: Iterable[str]) -> list[str]:
    """`:N` appended to the N-th repeat of a fingerprint.

    Findings without a pointer (a syntax error, say) or two findings of one rule on one node
    would otherwise share an identity, and code scanning would merge them into one alert.
    Pass them in a stable order (by location) so the numbering is stable too.
    """
    seen: dict[str, int] = {}
    result: list[str] = []
    for base in bases:
        seen[base] = seen.get(base, 0) + 1
        result.append(base if seen[base] == 1 else f"{base}:{seen[base]}")
    return result


def report_fingerprints(findings: list[Finding], documents: Mapping[str, Document],
                        root: str | None) -> list[str]:
    """The fingerprints of a report's findings, in the order given (pass them sorted by
    location): hashed on the path relative to `root`, repeats numbered. SARIF's
    `partialFingerprints` and JSON's `fingerprint` are these values."""
    from lkpolicy.report.paths import display_path

    keys = StructuralKeys(documents)
    shown: dict[str, str] = {}  # a file has many findings; its spelling is worked out once
    for finding in findings:
        file = finding.location.file
        if file not in shown:
            shown[file] = display_path(file, root)
    return number_repeats(finding_fingerprint(f, keys, shown[f.location.file]) for f in findings)


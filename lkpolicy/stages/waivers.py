"""Waivers: documented, expiring exceptions to findings, inline in a config or in a policy file.

Everything here is pure: no file is read and no clock is consulted. The caller passes the
documents, the policy data and `today` (a UTC date), so that the same inputs always give the
same verdict, in CI as on a laptop in another time zone.

Inline waivers are YAML comments::

    capabilities: [all]  # lkpolicy: ignore[LK318] reason="needs the host" expires=2026-12-31

    # lkpolicy: ignore[LK318,LKP102] reason="needs the host"
    capabilities: [all]

On a line with content they cover that line; alone on a line they cover the next line (only
the next: a blank line in between makes the waiver unused). Comments are found by the line
scanner of `lkpolicy.stages.yamlcomments`.

A waiver without a reason, an expired one, one that matches nothing and one that names an
unknown rule each become a finding of their own (LKW0xx), so waivers cannot silently rot.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import fnmatch
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from lkpolicy.model.document import Document, join_pointer
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.rules import Rule, blocks_build, define_rule
from lkpolicy.report.fingerprint import normalize_path
from lkpolicy.stages.yamlcomments import find_comments

if TYPE_CHECKING:
    from lkpolicy.model.config import Config

__all__ = [
    "BASELINE_UNREADABLE",
    "ContainerContext",
    "FindingContext",
    "Suppressed",
    "Waiver",
    "WaiverKind",
    "WaiverOutcome",
    "apply_waivers",
    "container_context",
    "parse_inline_waivers",
    "parse_policy_waivers",
]

_CATEGORY = "waiver"

WAIVER_WITHOUT_REASON = define_rule(
    "LKW001", "waiver-without-reason", "A waiver gives no reason", Severity.ERROR, _CATEGORY,
    "A waiver turns a security finding off; without a reason, the next reviewer cannot tell "
    "whether the exception still holds. A waiver without a reason suppresses nothing.",
    "Add `reason=\"...\"` to the inline comment, or `reason:` to the policy waiver.",
)
WAIVER_EXPIRED = define_rule(
    "LKW002", "waiver-expired", "A waiver has expired", Severity.WARNING, _CATEGORY,
    "Waivers are temporary by design. Once the expiry date has passed (dates are UTC; a waiver "
    "is still valid on its expiry day), the waiver stops suppressing and the original finding "
    "is reported again.",
    "Fix what the finding reports and remove the waiver, or renew it with a new `expires` date "
    "after a review.",
)
WAIVER_UNUSED = define_rule(
    "LKW003", "unused-waiver", "A waiver matches no finding", Severity.WARNING, _CATEGORY,
    "A waiver that suppresses nothing is either stale (the problem was fixed) or misplaced "
    "(wrong line, wrong rule ID, wrong glob); in both cases it misleads readers, and a stale "
    "waiver would silently hide the problem if it came back.",
    "Remove the waiver, or move it to the line of the finding (or the line directly above).",
)
WAIVER_UNKNOWN_RULE = define_rule(
    "LKW004", "waiver-unknown-rule", "A waiver names a rule that does not exist", Severity.WARNING,
    _CATEGORY,
    "A misspelt rule ID waives nothing, while the author believes the finding is handled.",
    "Use an ID listed by `lkpolicy rules`.",
)
WAIVER_INVALID = define_rule(
    "LKW005", "invalid-waiver", "A waiver cannot be parsed", Severity.ERROR, _CATEGORY,
    "A waiver that cannot be read is ignored; reporting it keeps a typo from turning an intended "
    "exception into a failing build without explanation, or from hiding a malformed policy.",
    "Write inline waivers as `# lkpolicy: ignore[RULE,...] reason=\"...\" expires=YYYY-MM-DD`, "
    "and policy waivers as mappings with `rule`, `reason` and `expires`.",
)
_INLINE_FORM = 'write it as `# lkpolicy: ignore[RULE,...] reason="..." expires=YYYY-MM-DD`'
_POLICY_FORM = ('write each waiver as a mapping: `- {rule: LKP120, reason: "...", '
               'expires: YYYY-MM-DD}`, narrowed by `image`, `section`, `name`, `file` or `pointer`')
WAIVER_OF_BUILD_BLOCKER = define_rule(
    "LKW006", "waiver-of-build-blocker", "A waiver names an error that stops the build",
    Severity.ERROR, _CATEGORY,
    "Errors of reading, the schema, linuxkit's own checks, the images and the lock (LK1xx to "
    "LK5xx) mean the config cannot be built at all; waiving one would make `check` pass a "
    "config that `build` refuses. Such a waiver suppresses nothing.",
    "Fix what the finding reports and remove the waiver.",
)
BASELINE_UNREADABLE = define_rule(
    "LKW010", "baseline-unreadable", "The baseline file cannot be used", Severity.ERROR, _CATEGORY,
    "A baseline decides which findings are old; a damaged or foreign file would hide new findings "
    "or report every old one, so lkpolicy stops instead.",
    "Regenerate the baseline with `--write-baseline`, or fix the path.",
)


class WaiverKind(enum.StrEnum):
    INLINE = "inline"
    POLICY = "policy"


@dataclass(frozen=True, slots=True)
class Waiver:
    """One waiver; the scope fields left at None match anything."""

    rules: tuple[str, ...]
    """Upper-case rule IDs (inline waivers may list several; policy waivers name one)."""
    reason: str
    """Empty when the author gave none (LKW001): such a waiver suppresses nothing."""
    location: Location
    """Where the waiver itself is written."""
    kind: WaiverKind
    expires: datetime.date | None = None
    """Last day on which the waiver applies (inclusive, UTC)."""
    owner: str | None = None
    pointer: str = ""
    """JSON pointer of a policy waiver in its policy document (empty for inline waivers)."""
    file: str | None = None
    """Inline: the exact path of the config. Policy: a glob over the finding's path."""
    line: int | None = None
    """Inline: the line the waiver covers."""
    image: str | None = None
    """Glob over the container's expanded image reference."""
    section: str | None = None
    name: str | None = None
    """Glob over the container's name."""
    pointer_prefix: str | None = None
    """The finding's pointer must equal it or lie below it (`/services/0` covers `/services/0/x`
    but not `/services/01`)."""

    def describe(self) -> str:
        rules = ",".join(self.rules)
        where = f" for {self.file}:{self.line}" if self.kind is WaiverKind.INLINE else ""
        return f"{self.kind.value} waiver of {rules}{where}"


class ContainerContext(NamedTuple):
    """What policy waivers can match on for a finding about a container."""

    section: str
    name: str
    image: str | None
    """The expanded image reference (`docker.io/linuxkit/sshd:v1.0`), None when unparsable."""


FindingContext = Callable[[Finding], ContainerContext | None]
"""Maps a finding to the container it is about, or None for findings outside containers."""


@dataclass(frozen=True, slots=True)
class Suppressed:
    finding: Finding
    waiver: Waiver


@dataclass(slots=True)
class WaiverOutcome:
    kept: list[Finding] = field(default_factory=list)
    """Findings still reported (those of expired waivers carry the waiver as `related`)."""
    suppressed: list[Suppressed] = field(default_factory=list)
    meta_findings: list[Finding] = field(default_factory=list)
    """Findings about the waivers themselves (LKW0xx)."""

    @property
    def findings(self) -> list[Finding]:
        """What the report shows: kept findings and the waiver findings, sorted."""
        return sorted([*self.kept, *self.meta_findings], key=Finding.sort_key)


# --------------------------------------------------------------------------------------------
# Inline waivers.

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""YAML's line breaks: the loader numbers lines by these only."""
_DIRECTIVE = re.compile(r"lkpolicy\s*:", re.IGNORECASE)
_IGNORE = re.compile(r"ignore\s*\[([^\]]*)\]", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"']+)""")
_RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*[0-9]+$")
_INLINE_KEYS = ("reason", "expires", "owner")
MAX_INLINE_RULES = 32
"""Rule IDs one inline waiver may name: each is matched and reported on its own."""
MAX_INLINE_WAIVERS = 1000
"""Inline waivers read from one file; later ones are reported once and ignored (which only
shows more findings, never fewer)."""


def parse_inline_waivers(document: Document) -> tuple[list[Waiver], list[Finding]]:
    """Waivers written as `# lkpolicy: ignore[...]` comments, and findings for malformed ones."""
    waivers: list[Waiver] = []
    findings: list[Finding] = []
    lines = _LINE_BREAK.split(document.text)
    for comment in find_comments(document.text):
        body = comment.text.strip()
        directive = _DIRECTIVE.match(body)
        if directive is None:
            continue
        location = Location(document.path, comment.line, comment.column)
        if len(waivers) == MAX_INLINE_WAIVERS:
            findings.append(WAIVER_INVALID.finding(
                f"more than {MAX_INLINE_WAIVERS} inline waivers in one file; this one and "
                "every later one are ignored", location,
                hint="move the waivers of a whole section into the policy's `waivers:`"))
            break
        rest = body[directive.end():].strip()
        waiver, problem = _parse_directive(rest, location, document.path)
        if problem is not None:
            findings.append(WAIVER_INVALID.finding(f"malformed lkpolicy comment: {problem}",
                                                   location, hint=_INLINE_FORM))
            continue
        assert waiver is not None
        target = comment.line
        if comment.alone:
            target += 1
            if target > len(lines):
                findings.append(WAIVER_INVALID.finding(
                    "a waiver alone on the last line has no line below it to cover", location,
                    hint="put the waiver on the line of the finding, or the line above it"))
                continue
        waivers.append(dataclasses.replace(waiver, line=target))
    return waivers, findings


def _parse_directive(text: str, location: Location,
                     path: str) -> tuple[Waiver | None, str | None]:
    match = _IGNORE.match(text)
    if match is None:
        return None, ("expected `lkpolicy: ignore[RULE,...] reason=\"...\"`, got "
                      f"`lkpolicy: {text}`")
    rules = tuple(part.strip().upper() for part in re.split(r"[,\s]+", match.group(1))
                  if part.strip())
    if not rules:
        return None, "`ignore[]` names no rule"
    if len(rules) > MAX_INLINE_RULES:
        return None, (f"`ignore[...]` names {len(rules)} rules; one waiver names at most "
                      f"{MAX_INLINE_RULES}")
    for rule in rules:
        if not _RULE_ID.match(rule):
            return None, f"`{rule}` is not a rule ID"
    attributes: dict[str, str] = {}
    rest = text[match.end():]
    position = 0
    while position < len(rest):
        if rest[position].isspace():
            position += 1
            continue
        attribute = _ATTRIBUTE.match(rest, position)
        if attribute is None:
            return None, f"cannot read `{rest[position:].strip()}` (write key=\"value\")"
        key = attribute.group(1).lower()
        if key not in _INLINE_KEYS:
            return None, f"unknown key `{key}` (use {', '.join(_INLINE_KEYS)})"
        if key in attributes:
            return None, f"`{key}` given twice"
        attributes[key] = _unquote(attribute.group(2))
        position = attribute.end()
    expires: datetime.date | None = None
    if "expires" in attributes:
        expires, problem = _parse_date(attributes["expires"])
        if problem is not None:
            return None, problem
    return Waiver(rules, attributes.get("reason", "").strip(), location, WaiverKind.INLINE,
                  expires=expires, owner=attributes.get("owner"), file=path), None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _parse_date(value: Any) -> tuple[datetime.date | None, str | None]:
    if isinstance(value, datetime.datetime):
        return value.date(), None
    if isinstance(value, datetime.date):
        return value, None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip()), None
        except ValueError:
            pass
    return None, f"`{value}` is not a date (write YYYY-MM-DD)"


# --------------------------------------------------------------------------------------------
# Policy-file waivers.

_POLICY_STRING_KEYS = ("image", "section", "name", "file", "pointer", "owner")
_POLICY_KEYS = frozenset({"rule", "reason", "expires", *_POLICY_STRING_KEYS})
_SECTIONS = ("onboot", "onshutdown", "services")


def parse_policy_waivers(data: Any, document: Document,
                         base_pointer: str) -> tuple[list[Waiver], list[Finding]]:
    """Validate the `waivers` list of a policy document (at `base_pointer` in `document`).

    An entry with a structural problem is dropped with an LKW005 finding at the offending key;
    an entry without a reason is kept (reason "") so that `apply_waivers` reports LKW001 once.
    """
    waivers: list[Waiver] = []
    findings: list[Finding] = []

    def invalid(message: str, pointer: str, *, key: bool = False) -> None:
        findings.append(WAIVER_INVALID.finding(message, document.location(pointer, key=key),
                                               pointer, hint=_POLICY_FORM))

    if not isinstance(data, list):
        invalid("`waivers` must be a list of mappings", base_pointer)
        return waivers, findings
    for index, entry in enumerate(data):
        pointer = join_pointer(base_pointer, index)
        if not isinstance(entry, dict):
            invalid("a waiver must be a mapping with `rule`, `reason` and `expires`", pointer)
            continue
        problems_before = len(findings)
        for key in entry:
            if key not in _POLICY_KEYS:
                invalid(f"unknown waiver key `{key}` (use {', '.join(sorted(_POLICY_KEYS))})",
                        join_pointer(pointer, key), key=True)
        rule = entry.get("rule")
        if not isinstance(rule, str) or not _RULE_ID.match(rule.strip().upper()):
            where = join_pointer(pointer, "rule") if "rule" in entry else pointer
            invalid("a waiver needs `rule`: one rule ID such as LK318"
                    + (f" (got `{rule}`)" if rule is not None else ""), where)
        reason = entry.get("reason")
        if reason is not None and not isinstance(reason, str):
            invalid("`reason` must be a string", join_pointer(pointer, "reason"))
        expires: datetime.date | None = None
        if "expires" not in entry:
            invalid("a policy waiver needs `expires: YYYY-MM-DD`", pointer)
        else:
            expires, problem = _parse_date(entry["expires"])
            if problem is not None:
                invalid(problem, join_pointer(pointer, "expires"))
        for key in _POLICY_STRING_KEYS:
            if key in entry and not isinstance(entry[key], str):
                invalid(f"`{key}` must be a string", join_pointer(pointer, key))
        section = entry.get("section")
        if isinstance(section, str) and section not in _SECTIONS:
            invalid(f"`section` must be one of {', '.join(_SECTIONS)}",
                    join_pointer(pointer, "section"))
        prefix = entry.get("pointer")
        if isinstance(prefix, str) and prefix and not prefix.startswith("/"):
            invalid("`pointer` must be a JSON pointer starting with `/`",
                    join_pointer(pointer, "pointer"))
        if len(findings) > problems_before:
            continue
        assert isinstance(rule, str)
        waivers.append(Waiver(
            rules=(rule.strip().upper(),),
            reason=(reason or "").strip() if isinstance(reason, str) else "",
            location=document.location(pointer),
            kind=WaiverKind.POLICY,
            expires=expires,
            owner=entry.get("owner"),
            pointer=pointer,
            file=entry.get("file"),
            image=entry.get("image"),
            section=section,
            name=entry.get("name"),
            pointer_prefix=prefix if prefix else None,
        ))
    return waivers, findings


def container_context(config: Config) -> FindingContext:
    """A `FindingContext` for findings of `config`: the container whose node holds the pointer."""
    from lkpolicy.model.reference import parse_or_none

    entries: list[tuple[str, str, str, ContainerContext]] = []
    for section, _index, node in config.containers():
        if not isinstance(node.value, dict):
            continue
        name = node.value.get("name")
        reference = parse_or_none(node.value.get("image"))
        expanded = reference.expanded if reference is not None else None
        entries.append((normalize_path(node.document.path), node.pointer, node.pointer + "/",
                        ContainerContext(section, name if isinstance(name, str) else "",
                                         expanded)))

    def lookup(finding: Finding) -> ContainerContext | None:
        path = normalize_path(finding.location.file)
        for file, pointer, below, context in entries:
            if path == file and (finding.pointer == pointer or finding.pointer.startswith(below)):
                return context
        return None

    return lookup


# --------------------------------------------------------------------------------------------
# Applying waivers.


def _matches(waiver: Waiver, finding: Finding, context: FindingContext | None) -> bool:
    if finding.rule_id.upper() not in waiver.rules:
        return False
    if waiver.kind is WaiverKind.INLINE:
        return (normalize_path(finding.location.file) == normalize_path(waiver.file or "")
                and finding.location.line == waiver.line)
    if waiver.file is not None and not fnmatch.fnmatchcase(
            normalize_path(finding.location.file), normalize_path(waiver.file)):
        return False
    if waiver.pointer_prefix is not None:
        prefix = waiver.pointer_prefix.rstrip("/")
        if finding.pointer != prefix and not finding.pointer.startswith(prefix + "/"):
            return False
    if waiver.section is None and waiver.name is None and waiver.image is None:
        return True
    found = context(finding) if context is not None else None
    if found is None:
        return False
    if waiver.section is not None and found.section != waiver.section:
        return False
    if waiver.name is not None and not fnmatch.fnmatchcase(found.name, waiver.name):
        return False
    return waiver.image is None or (
        found.image is not None and fnmatch.fnmatchcase(found.image, waiver.image))


def apply_waivers(
    findings: Iterable[Finding],
    waivers: Sequence[Waiver],
    today: datetime.date,
    *,
    context: FindingContext | None = None,
    known_rules: Collection[str] | None = None,
    chosen: Callable[[str], bool] | None = None,
) -> WaiverOutcome:
    """Split findings into kept and suppressed, and report problems with the waivers.

    `today` is the current UTC date; a waiver is valid up to and including its `expires` day.
    `known_rules` defaults to the rule catalogue (plus the rules of `findings`), and decides
    which rule IDs count as unknown. `chosen` is the rule selection: the checks of a rule it
    leaves out may not have run, so a waiver of that rule is not reported unused. Inputs are
    not modified.
    """
    findings = list(findings)
    if known_rules is None:
        from lkpolicy.model.rules import all_rules

        known = {rule.id for rule in all_rules()}
    else:
        known = {rule.upper() for rule in known_rules}
    known.update(finding.rule_id.upper() for finding in findings)

    outcome = WaiverOutcome()
    active: list[int] = []
    expired: list[int] = []
    for index, waiver in enumerate(waivers):
        if not waiver.reason:
            outcome.meta_findings.append(_meta(
                WAIVER_WITHOUT_REASON,
                f"{waiver.describe()} gives no reason; it suppresses nothing until it does",
                waiver, hint='add `reason="..."` to the comment' if waiver.kind is WaiverKind.INLINE
                else 'add `reason: "..."` to the waiver'))
        elif waiver.expires is not None and waiver.expires < today:
            expired.append(index)
            outcome.meta_findings.append(_meta(
                WAIVER_EXPIRED,
                f"waiver expired on {waiver.expires.isoformat()} (reason: {waiver.reason}); "
                f"{', '.join(waiver.rules)} findings it covered are reported again", waiver,
                hint="fix what the findings report and remove the waiver, or review it and set "
                     "a new `expires` date"))
        else:
            active.append(index)
        for rule in waiver.rules:
            if rule not in known:
                outcome.meta_findings.append(_meta(
                    WAIVER_UNKNOWN_RULE, f"{waiver.describe()} names `{rule}`, which is not a "
                    "rule ID; `lkpolicy rules` lists them", waiver,
                    hint=_close_rule(rule, known)))

    candidates = _Candidates(waivers, active)
    used: set[tuple[int, str]] = set()
    refused: set[tuple[int, str]] = set()
    for finding in findings:
        matched = [index for index in candidates.of(finding)
                   if _matches(waivers[index], finding, context)]
        for index in matched:
            used.add((index, finding.rule_id.upper()))
        if matched and blocks_build(finding.rule_id, finding.severity):
            for index in matched:
                if (index, finding.rule_id) not in refused:
                    refused.add((index, finding.rule_id))
                    outcome.meta_findings.append(_meta(
                        WAIVER_OF_BUILD_BLOCKER, f"{waivers[index].describe()} cannot waive "
                        f"{finding.rule_id}: the config cannot be built while it stands",
                        waivers[index], hint="fix what the finding reports and remove the "
                                             f"{finding.rule_id} waiver"))
            outcome.kept.append(finding)
            continue
        if matched:
            outcome.suppressed.append(Suppressed(finding, waivers[matched[0]]))
            continue
        lapsed = [waivers[index] for index in expired
                  if _matches(waivers[index], finding, context)]
        if lapsed:
            finding = dataclasses.replace(
                finding, related=[*finding.related, *(w.location for w in lapsed)])
        outcome.kept.append(finding)

    for index in active:
        waiver = waivers[index]
        for rule in waiver.rules:
            if (index, rule) not in used and rule in known and (chosen is None or chosen(rule)):
                outcome.meta_findings.append(_meta(
                    WAIVER_UNUSED, f"{waiver.describe()} matches no `{rule}` finding "
                    f"(reason: {waiver.reason})", waiver,
                    hint="remove the waiver, or move it to the line of the finding (or the line "
                         "above it)" if waiver.kind is WaiverKind.INLINE else
                         "remove the waiver, or correct its `image`, `section`, `name`, `file` "
                         "or `pointer`"))
    return outcome


class _Candidates:
    """The waivers that can match a finding: inline waivers by file and line (a config may
    hold a thousand of them, and a finding matches only those of its own line), then every
    policy waiver."""

    def __init__(self, waivers: Sequence[Waiver], indices: list[int]) -> None:
        self.by_line: dict[tuple[str, int | None], list[int]] = {}
        self.others: list[int] = []
        for index in indices:
            waiver = waivers[index]
            if waiver.kind is WaiverKind.INLINE:
                key = (normalize_path(waiver.file or ""), waiver.line)
                self.by_line.setdefault(key, []).append(index)
            else:
                self.others.append(index)

    def of(self, finding: Finding) -> list[int]:
        key = (normalize_path(finding.location.file), finding.location.line)
        return sorted([*self.by_line.get(key, ()), *self.others])


def _meta(rule: Rule, message: str, waiver: Waiver, *, hint: str) -> Finding:
    return rule.finding(message, waiver.location, waiver.pointer, hint=hint)


def _close_rule(rule: str, known: Collection[str]) -> str:
    import difflib

    close = difflib.get_close_matches(rule, sorted(known), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else "write an ID that `lkpolicy rules` lists"

"""Defaults for the options of `lkpolicy check`, from the repository's own files.

Where they come from, first found wins (whole: the two sources are not mixed):

1. the `check:` section of the policy file of the run: the `--policy` file, or the
   `.lkpolicy.yml` discovered from the first path given (a directory itself, a file's
   directory, `--stdin-filename`'s directory for `-`), exactly as the gate discovers it;
2. the `[tool.lkpolicy]` table of the nearest `pyproject.toml` that has one, searched from the
   same directory up to the repository root (with the same ownership checks as the policy).

Keys: `format`, `fail-on`, `select`, `ignore`, `exclude`. An option given on the command line
wins over its key. Nothing here imports the CLI library: the plain `lkpolicy check FILE...`
path reads the same defaults. It stays cheap there: a policy file that does not mention
`check` is not parsed, a section once validated is remembered in the result cache directory
(keyed by lkpolicy's code and the file's bytes), and pyproject.toml is parsed only when it
mentions `lkpolicy`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from lkpolicy.gate.exclude import Exclusion

_T = TypeVar("_T")

KEYS = ("format", "fail-on", "select", "ignore", "exclude")
PYPROJECT = "pyproject.toml"
_MAX_FILE_BYTES = 4 * 1024 * 1024
_MENTIONS_CHECK = re.compile(rb"(?:^|[{,\s])[\"']?check[\"']?\s*:", re.MULTILINE)
"""Every policy with a `check:` key matches (and a few without): others need no parsing."""


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """The options of `check` that a repository may default; None is "not set"."""

    output_format: str | None = None
    fail_on: str | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    exclude: Exclusion | None = None

    def completed_by(self, defaults: CheckSettings) -> CheckSettings:
        """These settings, with `defaults` where they are not set."""
        return CheckSettings(
            output_format=_first(self.output_format, defaults.output_format),
            fail_on=_first(self.fail_on, defaults.fail_on),
            select=_first(self.select, defaults.select),
            ignore=_first(self.ignore, defaults.ignore),
            exclude=_first(self.exclude, defaults.exclude))


def _first(chosen: _T | None, default: _T | None) -> _T | None:
    return chosen if chosen is not None else default


class SettingsError(Exception):
    """A configuration file with unusable `check` settings; `str()` is the one-line reason,
    `findings` the policy's findings when there are some (with file:line:col)."""

    def __init__(self, message: str, findings: list[Any] | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []


def start_directory(files: list[str], stdin_name: str | None) -> str:
    """Where discovery starts: the first path given (`-` is `stdin_name`, else the working
    directory), itself when it is a directory, else its directory."""
    first = files[0] if files else "-"
    if first == "-":
        first = stdin_name or ""
        if not first:
            return os.getcwd()
    absolute = os.path.abspath(first)
    return absolute if os.path.isdir(absolute) else os.path.dirname(absolute)


def configured_settings(files: list[str], *, policy: str | None, stdin_name: str | None,
                        use_cache: bool) -> CheckSettings:
    """The repository's defaults for a `check` of `files` (empty settings when it has none).
    Raises `SettingsError`."""
    from lkpolicy.stages.policy.discovery import BUILTIN_PREFIX, find_policy, nearest_file

    start = start_directory(files, stdin_name)
    spec = find_policy(policy, start)
    if not spec.startswith(BUILTIN_PREFIX):
        section = _policy_section(spec, use_cache)
        if section is not None:
            return settings_from(section, f"{spec}: check", os.path.dirname(os.path.abspath(spec)))
    tables: dict[Path, dict[str, Any]] = {}

    def has_table(path: Path) -> bool:
        table = _pyproject_table(path)
        if table is not None:
            tables[path] = table
        return table is not None

    found = nearest_file(start, PYPROJECT, has_table)
    if found is None:
        return CheckSettings()
    return settings_from(tables[found], f"{found}: [tool.lkpolicy]", str(found.parent))


def settings_from(table: dict[str, Any], source: str, base: str) -> CheckSettings:
    """Checked settings from a `check:` section or a `[tool.lkpolicy]` table; `base` is the
    directory that `exclude` patterns are relative to. Raises `SettingsError`."""
    from lkpolicy.cli.running import FailOn
    from lkpolicy.gate.exclude import exclusion
    from lkpolicy.gate.options import RuleSelection, UsageError
    from lkpolicy.report import FORMATS

    unknown = sorted(str(key) for key in table if key not in KEYS)
    if unknown:
        raise SettingsError(f"{source}: unknown key `{unknown[0]}` (known: {', '.join(KEYS)})")

    def choice(key: str, allowed: tuple[str, ...]) -> str | None:
        value = table.get(key)
        if value is not None and value not in allowed:
            raise SettingsError(f"{source}: `{key}` is {json.dumps(value)}; use one of "
                                f"{', '.join(allowed)}")
        return value

    def strings(key: str) -> list[str] | None:
        value = table.get(key)
        if value is not None and (not isinstance(value, list) or not all(
                isinstance(item, str) and item.strip() for item in value)):
            raise SettingsError(f"{source}: `{key}` must be a list of non-empty strings")
        return value

    settings = CheckSettings(
        output_format=choice("format", FORMATS),
        fail_on=choice("fail-on", tuple(member.value for member in FailOn)),
        select=strings("select"), ignore=strings("ignore"))
    try:
        RuleSelection.parse(settings.select, settings.ignore,
                            names=(f"{source}: select", f"{source}: ignore"))
        patterns = exclusion(strings("exclude"), base)
    except UsageError as error:
        raise SettingsError(str(error)) from None
    except ValueError as error:
        raise SettingsError(f"{source}: exclude: {error}") from None
    return replace(settings, exclude=patterns)


def _policy_section(spec: str, use_cache: bool) -> dict[str, Any] | None:
    """The policy file's `check:` section, None when it has none. A file that cannot be read
    has no defaults here: the gate reports it, in the run's format."""
    from lkpolicy.safeio import UntrustedInput, read_regular_file

    try:
        raw = read_regular_file(spec, _MAX_FILE_BYTES, "policy")
    except (OSError, UntrustedInput):
        return None
    if not _MENTIONS_CHECK.search(raw):
        return None
    entry = _cache_entry(spec, raw) if use_cache else None
    if entry is not None:
        remembered = _remembered(entry)
        section = remembered.get("section") if remembered is not None else None
        if remembered is not None and (section is None or isinstance(section, dict)):
            return section
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.policy.loader import read_check_section

    try:
        section = read_check_section(spec)
    except InputError as error:
        raise SettingsError(f"{spec}: not a valid policy", error.findings) from None
    if entry is not None:
        _remember(entry, {"section": section})
    return section


def _cache_entry(spec: str, raw: bytes) -> Path | None:
    from lkpolicy.gate import resultcache

    directory = resultcache.cache_dir()
    if directory is None:
        return None
    digest = hashlib.sha256(resultcache.code_fingerprint().encode())
    digest.update(os.path.abspath(spec).encode("utf-8", "surrogateescape") + b"\0" + raw)
    return directory / "defaults" / digest.hexdigest()


def _remembered(entry: Path) -> dict[str, Any] | None:
    from lkpolicy.safeio import UntrustedInput, parse_json, read_regular_file

    try:
        value = parse_json(read_regular_file(entry, _MAX_FILE_BYTES, "cached settings"),
                           "cached settings")
    except (OSError, UntrustedInput, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _remember(entry: Path, value: dict[str, Any]) -> None:
    from lkpolicy.safeio import atomic_write_text

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(entry, json.dumps(value), mode=0o600)
    except OSError:
        pass  # a read-only cache directory costs a parse per run, nothing else


def _pyproject_table(path: Path) -> dict[str, Any] | None:
    """`[tool.lkpolicy]` of a pyproject.toml, None when it has none. Raises `SettingsError`
    for a file that mentions lkpolicy but cannot be read as TOML."""
    from lkpolicy.safeio import UntrustedInput, read_regular_file

    try:
        raw = read_regular_file(path, _MAX_FILE_BYTES, PYPROJECT)
    except (OSError, UntrustedInput) as error:
        raise SettingsError(f"{path}: cannot be read: {error}") from None
    if b"lkpolicy" not in raw:
        return None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    tool = data.get("tool")
    table = tool.get("lkpolicy") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise SettingsError(f"{path}: `tool.lkpolicy` must be a table")
    return table

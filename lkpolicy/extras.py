"""The optional parts of lkpolicy and what to install when one is missing.

The core (`pip install lkpolicy`, what the pre-commit hooks get) lints and judges configs;
signature verification, the build core and custom policy rules are extras, because their
libraries are most of an install's size and time:

* `trust`: the policy's `trust:` authorities, `trust inspect`, `verify-build` and signed
  provenance (`build --sign-key`, `--keyless`);
* `build`: `lkpolicy build`;
* `cel`: the custom rules of a policy (`custom_rules:`, conditions in CEL);
* `all`: every one.

Whether an extra is installed is read from the import system without importing anything (the
check stays as cheap as the commands that do not need it). A command that needs a missing
extra stops with one line naming it (exit 2); a trust stage that the policy requires reports
an error finding naming it (LKT002, LKT005), never a pass; a policy's custom rule is an LKP007
error naming it (exit 2), never a rule that judges nothing.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "install_hint", "missing_modules", "require"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "trust": ("cryptography", "nacl", "sigstore", "tuf"),
    "build": ("isal", "deflate"),
    "cel": ("cel_expr_python",),
}
"""Each extra -> the top-level modules it installs that lkpolicy imports (pyproject.toml's
`[project.optional-dependencies]` lists their distributions)."""


class MissingExtra(Exception):
    """`str()` is the one line to print: what needs the extra and how to install it."""

    def __init__(self, extra: str, needed_by: str) -> None:
        self.extra = extra
        super().__init__(f"{needed_by} needs the {extra} extra: {install_hint(extra)}")


def install_hint(extra: str) -> str:
    return f"pip install 'lkpolicy[{extra}]'"


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (empty: the extra is installed)."""
    return [name for name in EXTRAS[extra] if not _importable(name)]


def require(extra: str, needed_by: str) -> None:
    """Raise `MissingExtra` unless every module of `extra` is importable."""
    if missing_modules(extra):
        raise MissingExtra(extra, needed_by)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install, or a module set to None
        return False

"""The policy engine: which of the powers a config grants its containers are acceptable.

`load_policy` reads a policy file (with `extends`, selectors and rule options) and `evaluate`
judges a merged config, or the effective configs of its containers when the images are known.
The names are loaded on first use, so that `lkpolicy.policy.discovery` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.policy.discovery import find_policy
    from lkpolicy.policy.engine import evaluate, trust_covers
    from lkpolicy.policy.loader import load_policy
    from lkpolicy.policy.model import Policy

_HOMES = {
    "Policy": "lkpolicy.policy.model",
    "evaluate": "lkpolicy.policy.engine",
    "trust_covers": "lkpolicy.policy.engine",
    "find_policy": "lkpolicy.policy.discovery",
    "load_policy": "lkpolicy.policy.loader",
}

__all__ = ["Policy", "evaluate", "find_policy", "load_policy", "trust_covers"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lkpolicy.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)

"""The policy engine: which of the powers a config grants its containers are acceptable.

`load_policy` reads a policy file (with `extends`, selectors and rule options) and `evaluate`
judges a merged config, or the effective configs of its containers when the images are known.
The names are loaded on first use, so that `lkpolicy.stages.policy.discovery` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.stages.policy.discovery import find_policy
    from lkpolicy.stages.policy.engine import evaluate, trust_covers
    from lkpolicy.stages.policy.loader import load_policy
    from lkpolicy.stages.policy.model import Policy

_HOMES = {
    "Policy": "lkpolicy.stages.policy.model",
    "evaluate": "lkpolicy.stages.policy.engine",
    "trust_covers": "lkpolicy.stages.policy.engine",
    "find_policy": "lkpolicy.stages.policy.discovery",
    "load_policy": "lkpolicy.stages.policy.loader",
}

__all__ = ["Policy", "evaluate", "find_policy", "load_policy", "trust_covers"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lkpolicy.stages.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)

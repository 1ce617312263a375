"""Config fields added after caches were filled.

Every stage's cache key hashes its config section, so a new field would change every key and
recompute hours of finished stages. A field declared with :func:`later` is left out of the hash
while it holds its default (:func:`slmlib.config.canonical_json`): old keys stay valid, and only
runs that set the new option get new ones.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any

MARK = "hash_omits_default"


def later(default: Any) -> Any:
    """A dataclass field with ``default`` that stays out of cache keys while at its default."""
    return field(default=default, metadata={MARK: True})

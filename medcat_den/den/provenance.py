"""Where did this object come from: the one registry of CATs (and their parts) loaded from a den.

``Den.fetch_model`` records the CAT it returns (content id, name, den); the
remote policy records the CAT's CDB and pipeline components too, with the
policy that guards their training entry points. Entries are keyed by ``id()``
with a weak reference (CAT and CDB define ``__eq__`` without ``__hash__``, so a
``WeakKeyDictionary`` cannot hold them) and vanish when the object is collected.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """A den model an object belongs to."""

    model_id: str
    name: str | None = None
    den_label: str = ""
    #: the policy guarding this object's training entry points (a RemotePolicy), if any
    guard: Any = None


_REGISTRY: dict[int, tuple[weakref.ref[Any], Provenance]] = {}
_LOCK = threading.Lock()


def record(obj: Any, provenance: Provenance) -> None:
    """Remember that ``obj`` belongs to ``provenance`` (replacing any earlier record)."""
    key = id(obj)

    def forget(_ref: weakref.ref[Any], key: int = key) -> None:
        with _LOCK:
            entry = _REGISTRY.get(key)
            if entry is not None and entry[0]() is None:
                del _REGISTRY[key]

    with _LOCK:
        _REGISTRY[key] = (weakref.ref(obj, forget), provenance)


def lookup(obj: Any) -> Provenance | None:
    """What ``obj`` was recorded as, if it is the very object recorded."""
    if obj is None:
        return None
    entry = _REGISTRY.get(id(obj))
    if entry is None or entry[0]() is not obj:
        return None
    return entry[1]


def add_guard(obj: Any, guard: Any, den_label: str, model_id: str) -> None:
    """Attach a policy to ``obj``'s record (creating one if needed)."""
    current = lookup(obj) or Provenance(model_id=model_id, den_label=den_label)
    record(obj, replace(current, guard=guard, den_label=den_label))


def source_of(cat: Any) -> str | None:
    """Content id of the den model ``cat`` was fetched as, if any."""
    found = lookup(cat)
    return found.model_id if found else None

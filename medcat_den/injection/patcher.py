"""``ClassPatch``: replace one attribute of a class and put back exactly what was there.

Config keys (constructor arguments): ``owner`` (the class), ``name`` (the attribute),
``make_replacement`` (called with the attribute found in ``owner.__dict__`` when the
patch goes on, returns what to install; it must delegate to that original).

Removing the patch restores the original only while our replacement is still the
attribute: if someone patched over us afterwards, their patch stays (it delegates
to ours, which then simply passes calls through) and the next ``install`` reuses
ours instead of stacking a second copy. Not thread-safe by itself: callers hold a lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_MISSING = object()


class ClassPatch:
    """One attribute patch on one class (see module docstring)."""

    def __init__(self, owner: type, name: str, make_replacement: Callable[[Any], Any]) -> None:
        self.owner = owner
        self.name = name
        self._make_replacement = make_replacement
        self._original: Any = _MISSING
        self._replacement: Any = None
        self._inherited = False

    @property
    def installed(self) -> bool:
        """True while our replacement is in force (on the class or shadowed by a later patch)."""
        return self._replacement is not None

    @property
    def on_top(self) -> bool:
        """True if the class attribute is our replacement itself."""
        return self._replacement is not None and self.owner.__dict__.get(self.name) is (
            self._replacement
        )

    @property
    def original(self) -> Any:
        return None if self._original is _MISSING else self._original

    def install(self) -> None:
        if self._replacement is not None:
            current = self.owner.__dict__.get(self.name, _MISSING)
            was_there = _MISSING if self._inherited else self._original
            if current is self._replacement or current is not was_there:
                # still reachable: on the class, or under someone else's later patch
                return
            # someone put the original straight back over ours: ours is gone, start afresh
            self._replacement = None
        self._original = self.owner.__dict__.get(self.name, _MISSING)
        self._inherited = self._original is _MISSING
        if self._inherited:
            # delegate to the raw descriptor the class inherits (not one bound to the base)
            for klass in self.owner.__mro__[1:]:
                if self.name in klass.__dict__:
                    self._original = klass.__dict__[self.name]
                    break
            else:
                raise AttributeError(f"{self.owner.__name__} has no attribute {self.name!r}")
        self._replacement = self._make_replacement(self._original)
        setattr(self.owner, self.name, self._replacement)

    def remove(self) -> bool:
        """Restore the original; False (ours kept, inert) if another patch shadows ours."""
        if self._replacement is None:
            return True
        if not self.on_top:
            logger.warning(
                "%s.%s was patched again after medcat_den injected it; leaving that patch in place "
                "(the den part passes calls through while no injection is active)",
                self.owner.__name__, self.name,
            )
            return False
        if self._inherited:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self._original)
        self._original = _MISSING
        self._replacement = None
        return True

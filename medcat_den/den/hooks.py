"""The protocol through which the den applies policies.

The implementation is ``medcat_den.den.policies.RemotePolicy``; the den only
depends on this shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from medcat_den.pack.manifest import PackManifest


class DenPolicy(Protocol):
    """Rules a den enforces on every push and on models it hands out."""

    def check_push(self, den: Any, manifest: PackManifest) -> None:
        """Raise PolicyError (changing nothing) if this push is not allowed."""
        ...

    def on_fetched(self, den: Any, cat: Any, model_id: str) -> None:
        """Called with every CAT the den loads (e.g. to guard its training entry points)."""
        ...

"""Protocols through which the den uses a local blob cache and policies.

Implementations live in ``medcat_den.cache`` and ``medcat_den.den.policies``;
the den only depends on these shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from medcat_den.store.backend import StoreBackend
    from medcat_den.store.manifest import PackManifest


class BlobCache(Protocol):
    """A verified, content-addressed local copy of a remote den's blobs."""

    def ensure_blob(self, backend: StoreBackend, key: str, sha256: str, size: int) -> str:
        """Return a local path whose bytes hash to ``sha256`` (downloading once if needed)."""
        ...


class DenPolicy(Protocol):
    """Rules a den enforces on every push and on models it hands out."""

    def check_push(self, den: Any, manifest: PackManifest) -> None:
        """Raise PolicyError (changing nothing) if this push is not allowed."""
        ...

    def on_fetched(self, den: Any, cat: Any, model_id: str) -> None:
        """Called with every CAT the den loads (e.g. to guard its training entry points)."""
        ...

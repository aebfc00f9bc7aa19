"""medcat-den 0.6.0's add-on loading: entry points of group ``medcat_den.addons``.

Config: none. An add-on package declares ``[project.entry-points."medcat_den.addons"]``;
loading it imports the module, which registers what it offers (e.g.
:func:`medcat_den.backend.register_remote_den`). 0.6.0 did this on ``import medcat_den``;
here :func:`medcat_den.resolver.resolve` and the legacy ``get_default_den`` paths call
:func:`_load_addons` once.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

logger = logging.getLogger(__name__)

_loaded = False
_lock = threading.Lock()


def _load_addons() -> None:
    """Import every ``medcat_den.addons`` entry point once (a failing one is logged)."""
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        for ep in entry_points(group="medcat_den.addons"):
            try:
                ep.load()
            except Exception:  # noqa: BLE001 - one broken add-on must not break the den
                logger.exception("medcat_den add-on %s failed to load", ep.name)

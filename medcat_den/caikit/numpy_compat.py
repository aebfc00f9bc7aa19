"""NumPy 2 compatibility shim for caikit 0.29's HTTP server.

caikit 0.29.1 (``caikit.runtime.http_server.pydantic_wrapper``) calls
``np.issubclass_``, which NumPy 2.0 removed, while MedCAT 2.x needs NumPy >= 2.
:func:`apply_numpy_compat` restores exactly that one attribute, with NumPy 1's
semantics, and only when it is missing. It is called by our runtime entry points
(``medcat-den serve`` and :func:`medcat_den.caikit.server.start_http_server`),
never on import. See adrs/0402-numpy2-issubclass-shim.md.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

SHIMMED_ATTRIBUTE = "issubclass_"


def _issubclass_(arg1: object, arg2: type | tuple[type, ...]) -> bool:
    """NumPy 1.x ``np.issubclass_``: ``issubclass`` that returns False for non-classes."""
    try:
        return issubclass(arg1, arg2)  # type: ignore[arg-type]
    except TypeError:
        return False


def needs_numpy_compat() -> bool:
    """True when the running NumPy lacks ``np.issubclass_``."""
    return not hasattr(np, SHIMMED_ATTRIBUTE)


def apply_numpy_compat() -> bool:
    """Add ``np.issubclass_`` if (and only if) it is missing; return whether it was added."""
    if not needs_numpy_compat():
        return False
    setattr(np, SHIMMED_ATTRIBUTE, _issubclass_)
    logger.debug("numpy %s lacks np.%s; added the compatibility shim for caikit's HTTP server",
                 np.__version__, SHIMMED_ATTRIBUTE)
    return True

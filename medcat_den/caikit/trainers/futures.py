"""What the trainers' futures (:class:`LinkerTrainingFuture`, :class:`RayTrainingFuture`)
share: waiting for a job by polling, and loading the trained model from the den as the
caikit module class given to ``train``. Config: none (a helper module).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from medcat_den.caikit.den_access import fetch_cat
from medcat_den.den.den_spec import DenSpec


def poll_until(done: Callable[[], bool], timeout: float | None, interval_s: float) -> bool:
    """Call ``done()`` every ``interval_s`` until it is true (True) or ``timeout`` s passed
    (False); ``timeout=None`` waits for ever."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


def load_trained(den: DenSpec, module_class: type[Any], model_id: str) -> Any:
    """The den model ``model_id`` as an instance of the caikit ``module_class``."""
    cat = fetch_cat(den.open(), model_id)
    return module_class(cat, den_model_id=model_id)

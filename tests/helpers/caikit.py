"""caikit's process-wide state for tests: each test starts with empty model-management
caches and gets caikit's config and the SIGINT/SIGTERM handlers back as they were."""

from __future__ import annotations

import contextlib
import copy
import signal
from collections.abc import Iterator
from typing import Any

import aconfig


@contextlib.contextmanager
def isolated_caikit_state(*, reset_runtime: bool = False) -> Iterator[None]:
    """Clear caikit's finders, initializers, trainers and singleton cache around the block,
    then restore the global config and signal handlers; ``reset_runtime`` also drops
    caikit runtime's ModelManager singleton."""
    import caikit.config.config as cfg
    import caikit.core

    import medcat_den.caikit  # noqa: F401

    runtime_mm: Any = None
    if reset_runtime:
        from caikit.runtime.model_management.model_manager import ModelManager

        runtime_mm = ModelManager

    saved = copy.deepcopy(dict(cfg._CONFIG))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    mm = caikit.core.MODEL_MANAGER

    def reset() -> None:
        for attr in ("_finders", "_initializers", "_trainers", "_job_predictors"):
            getattr(mm, attr).clear()
        mm.clear_singleton_cache()
        if runtime_mm is not None:
            runtime_mm._ModelManager__instance = None

    reset()
    try:
        yield
    finally:
        reset()
        cfg._update_global_config(aconfig.Config(saved, override_env_vars=False))
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

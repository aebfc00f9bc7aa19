"""Fixtures for the caikit plugin tests: a den holding two tiny packs, isolated caikit state."""

from __future__ import annotations

import copy
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aconfig
import pytest


@dataclass
class DenModels:
    den: Any
    root: Path
    a: Any  # ModelInfo of "tiny" (12 concepts)
    b: Any  # ModelInfo of "tiny-b" (6 concepts)


@pytest.fixture()
def den_models(isolated_env: Path, tiny_pack: Path, tiny_pack_b: Path) -> DenModels:
    from medcat_den.den import get_default_den

    den = get_default_den()
    a = den.push_model(str(tiny_pack), name="tiny", description="tiny test pack")
    b = den.push_model(str(tiny_pack_b), name="tiny-b", aliases=["production"])
    return DenModels(den=den, root=isolated_env / "den", a=a, b=b)


@pytest.fixture(autouse=True)
def caikit_state() -> Iterator[None]:
    """Give each test caikit's config and component caches as they were, and restore them."""
    import caikit.config.config as cfg
    import caikit.core
    from caikit.runtime.model_management.model_manager import ModelManager as RuntimeMM

    import medcat_den.caikit  # noqa: F401

    saved = copy.deepcopy(dict(cfg._CONFIG))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    mm = caikit.core.MODEL_MANAGER

    def reset() -> None:
        for attr in ("_finders", "_initializers", "_trainers", "_job_predictors"):
            getattr(mm, attr).clear()
        mm.clear_singleton_cache()
        RuntimeMM._ModelManager__instance = None  # type: ignore[attr-defined]

    reset()
    yield
    reset()
    cfg._update_global_config(aconfig.Config(saved, override_env_vars=False))
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

"""Fixtures for the caikit plugin tests: a den holding two tiny packs, isolated caikit state."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.caikit import isolated_caikit_state


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
    with isolated_caikit_state(reset_runtime=True):
        yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

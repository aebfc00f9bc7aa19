"""Fixtures for the medcat-den 0.6.0 compatibility tests: a den with the tiny pack in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from medcat.cat import CAT

from medcat_den.injection import api


@pytest.fixture(autouse=True)
def no_injection_left() -> Iterator[None]:
    yield
    left = api.STATE.active_count
    while api.uninject_into_medcat():
        pass
    assert left == 0, f"{left} injection(s) still active after the test"


@pytest.fixture()
def den(isolated_env: Path) -> Any:
    """0.6.0's README: ``get_default_den()`` (here: the test's MEDCAT_DEN_PATH)."""
    from medcat_den.den import get_default_den

    return get_default_den()


@pytest.fixture()
def base_info(den: Any, tiny_pack: Path) -> Any:
    """The tiny pack, pushed with a description (0.6.0's push of a CAT: test_readme_flows)."""
    return den.push_model(str(tiny_pack), "base model")


def changed(cat: CAT, threshold: float) -> CAT:
    """``cat`` with different content (so a push makes a new model)."""
    cat.config.components.linking.similarity_threshold = threshold
    return cat

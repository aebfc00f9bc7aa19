"""Fixtures for the injection tests: a real den holding the tiny pack, and a leak guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from medcat.cat import CAT

from medcat_den.den import Den, ModelInfo, get_default_den
from medcat_den.injection import api
from tests.helpers.injection import ORIGINAL_LOAD, ORIGINAL_SAVE


@pytest.fixture(autouse=True)
def no_injection_leak() -> Iterator[None]:
    """Every test must leave MedCAT exactly as it found it (and we clean up if not)."""
    yield
    leaked = api.STATE.active_count
    while api.uninject_into_medcat():
        pass
    restored = (CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD
                and CAT.__dict__["save_model_pack"] is ORIGINAL_SAVE)
    if not restored:  # put MedCAT back so one failure does not cascade into every later test
        CAT.load_model_pack = ORIGINAL_LOAD  # type: ignore[method-assign]
        CAT.save_model_pack = ORIGINAL_SAVE  # type: ignore[method-assign]
        api._patches = None
    assert leaked == 0, f"{leaked} injection(s) still active after the test"
    assert restored, "CAT.load_model_pack / save_model_pack not restored after the test"


@pytest.fixture()
def den(isolated_env: Path) -> Den:
    """The default den, in the test's tmp folder (MEDCAT_DEN_PATH)."""
    return get_default_den()


@pytest.fixture()
def tiny_in_den(den: Den, tiny_pack: Path) -> ModelInfo:
    """The tiny pack pushed as ``den://tiny``."""
    return den.push_model(str(tiny_pack), "tiny test pack", name="tiny")


@pytest.fixture()
def work_dir(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, so a bare name like ``tiny`` is not a path."""
    d = isolated_env / "work"
    d.mkdir()
    monkeypatch.chdir(d)
    return d

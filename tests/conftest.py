"""Shared fixtures: offline environment, tiny real MedCAT packs, an isolated den."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NCBI_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ncbi-disease"

TINY_CONCEPTS: list[tuple[str, str]] = [
    ("C0011849", "diabetes mellitus"),
    ("C0011849", "diabetes"),
    ("C0020538", "hypertension"),
    ("C0020538", "high blood pressure"),
    ("C0004096", "asthma"),
    ("C0027051", "myocardial infarction"),
    ("C0027051", "heart attack"),
    ("C0018801", "heart failure"),
    ("C0006826", "cancer"),
    ("C0006826", "malignant neoplasm"),
    ("C0024117", "chronic obstructive pulmonary disease"),
    ("C0024117", "copd"),
]


def write_concepts_csv(path: Path, concepts: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cui", "name"])
        w.writerows(concepts)
    return path


def build_pack(folder: Path, concepts: list[tuple[str, str]], pack_name: str = "tiny") -> Path:
    """Build a real (dictionary-linking) MedCAT pack folder offline and return its path."""
    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    folder.mkdir(parents=True, exist_ok=True)
    csv_path = write_concepts_csv(folder / f"{pack_name}_concepts.csv", concepts)
    cdb = CDBMaker(Config()).prepare_csvs([str(csv_path)])
    cat = CAT(cdb, vocab=Vocab())
    out = cat.save_model_pack(str(folder), pack_name=pack_name, make_archive=False,
                              add_hash_to_pack_name=False)
    return Path(out)


@pytest.fixture(scope="session", autouse=True)
def _installed_distributions_read_once() -> Iterator[None]:
    """MedCAT records the installed distributions in every Config it creates and every pack
    it saves, reading ~1,000 METADATA files each time (0.8 s on the shared 2-core machine;
    tests/den alone did it 37 times, 29 s). They cannot change while the session runs (the
    wheel test installs into a venv of its own), so this process reads them once and hands
    out copies: packs record the same environment as before. Subprocesses read as usual."""
    import copy
    import functools

    from medcat.utils import envsnapshot

    def once(real: Any) -> Any:
        seen: dict[str, Any] = {}

        @functools.wraps(real)
        def read(*args: Any, **kwargs: Any) -> Any:
            key = repr((args, sorted(kwargs.items())))
            if key not in seen:
                seen[key] = real(*args, **kwargs)
            return copy.deepcopy(seen[key])
        return read

    with pytest.MonkeyPatch.context() as mp:
        for name in ("get_installed_dependencies", "get_transitive_deps"):
            mp.setattr(envsnapshot, name, once(getattr(envsnapshot, name)))
        yield


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MedCAT pack folder (read-only by convention: copy before modifying)."""
    return build_pack(tmp_path_factory.mktemp("packs"), TINY_CONCEPTS)


@pytest.fixture(scope="session")
def tiny_pack_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, different real MedCAT pack."""
    return build_pack(tmp_path_factory.mktemp("packs_b"), TINY_CONCEPTS[:6], pack_name="tiny_b")


@pytest.fixture()
def den_root(tmp_path: Path) -> Path:
    root = tmp_path / "den"
    root.mkdir()
    return root


@pytest.fixture()
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every default location (den, cache, jobs) into tmp_path."""
    for var in list(os.environ):
        if var.startswith("MEDCAT_DEN_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MEDCAT_DEN_TYPE", "LOCAL_USER")
    monkeypatch.setenv("MEDCAT_DEN_PATH", str(tmp_path / "den"))
    monkeypatch.setenv("MEDCAT_DEN_LOCAL_CACHE_PATH", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDCAT_DEN_STATE_DIR", str(tmp_path / "state"))
    yield tmp_path

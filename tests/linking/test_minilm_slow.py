"""The real all-MiniLM-L6-v2 (slow): sentinel reference survives a move; CPU training works."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TINY_CONCEPTS, write_concepts_csv

pytestmark = pytest.mark.slow


def _pred(cat: Any, text: str) -> list[tuple[int, int, str, float]]:
    return [(e.base.start_char_index, e.base.end_char_index, e.cui,
             round(float(e.context_similarity), 5)) for e in cat(text).linked_ents]


def test_minilm_pack_moves_and_reloads(tmp_path: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import build_pack

    csv_path = write_concepts_csv(tmp_path / "c.csv", TINY_CONCEPTS)
    pack = Path(build_pack(str(csv_path), str(tmp_path / "a"), trainable=False))
    comp = pack / "saved_components" / "core_linking"
    meta = json.loads((comp / "linker.json").read_text())
    assert meta["model_ref"] == "sentinel:all-MiniLM-L6-v2"
    assert not (comp / "base_model").exists()  # the pack stores a reference, not 90 MB
    text = "Patient with diabetes mellitus and high blood pressure, no copd."
    before = _pred(CAT.load_model_pack(str(pack)), text)
    moved = shutil.copytree(pack, tmp_path / "moved" / "pack")
    shutil.rmtree(pack)
    after = _pred(CAT.load_model_pack(str(moved)), text)
    assert before == after
    assert {c for _, _, c, _ in after} >= {"C0011849", "C0020538", "C0024117"}


def test_minilm_trains_on_cpu_with_an_unfrozen_layer(tmp_path: Path) -> None:
    from medcat.cat import CAT
    from safetensors.torch import load_file

    from medcat_den.linking.builder import build_cat, get_linker

    csv_path = write_concepts_csv(tmp_path / "c.csv", TINY_CONCEPTS)
    cat = build_cat(str(csv_path), trainable=True,
                    config_overrides={"top_n_layers_to_unfreeze": 1, "device": "cpu"})
    text = "The patient was diagnosed with diabetes and asthma last year."
    export = {"projects": [{"name": "p", "documents": [{"name": "d", "text": text, "annotations": [
        {"cui": "C0011849", "start": 31, "end": 39, "value": "diabetes"},
        {"cui": "C0004096", "start": 44, "end": 50, "value": "asthma"}]}]}]}
    result = get_linker(cat).fit(export, epochs=2)
    assert result["loss_last_epoch"] == result["loss_last_epoch"]  # finite, no dtype crash
    out = cat.save_model_pack(str(tmp_path), pack_name="t", make_archive=False,
                              add_hash_to_pack_name=False)
    trained = load_file(str(Path(out) / "saved_components" / "core_linking" /
                            "trained.safetensors"))
    assert any(".encoder.layer.5." in k for k in trained)
    assert not any(".encoder.layer.4." in k for k in trained)
    assert _pred(CAT.load_model_pack(out), text) == _pred(cat, text)

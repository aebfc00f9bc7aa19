"""GPU path: training on CUDA, and a GPU-trained pack predicting the same on CPU.

Skipped where torch sees no CUDA device (CI); run on a GPU machine with
``python -m pytest tests/linking`` (the linker's ``device: auto`` then picks the GPU
for every other linker test too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _spans(cat: Any, export: dict[str, Any]) -> list[list[tuple[int, int, str]]]:
    return [sorted((e.base.start_char_index, e.base.end_char_index, e.cui)
                   for e in cat(d["text"]).linked_ents)
            for p in export["projects"] for d in p["documents"]]


def test_trains_on_gpu_and_reloads_on_cpu(trainable_pack: Path, toy_train: dict[str, Any],
                                           toy_test: dict[str, Any], tmp_path: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking import evaluate
    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(trainable_pack))
    linker = get_linker(cat)
    linker.set_device("cuda")
    assert next(linker.context_model.model.parameters()).is_cuda
    before = evaluate(cat, toy_test)
    fit = linker.fit(toy_train)
    assert fit["loss_last_epoch"] < 0.9 * fit["loss_first_epoch"]
    after = evaluate(cat, toy_test)
    assert after["f1"] > before["f1"] + 0.03
    assert next(linker.context_model.inference_language_model().parameters()).is_cuda

    saved = cat.save_model_pack(str(tmp_path), pack_name="gpu_trained", make_archive=False,
                                add_hash_to_pack_name=False)
    on_cpu = CAT.load_model_pack(saved)
    get_linker(on_cpu).set_device("cpu")
    assert not next(get_linker(on_cpu).context_model.model.parameters()).is_cuda
    gpu_spans, cpu_spans = _spans(cat, toy_test), _spans(on_cpu, toy_test)
    same = sum(a == b for a, b in zip(gpu_spans, cpu_spans, strict=True))
    assert same >= len(gpu_spans) - 1  # bf16 kernels differ by device; decisions must not
    assert abs(evaluate(on_cpu, toy_test)["f1"] - after["f1"]) < 0.02

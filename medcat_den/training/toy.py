"""A small, real reference implementation of :class:`TrainableComponent`.

``ToyLinker`` links an annotated mention to a CUI with a hashed character-trigram
``EmbeddingBag`` and a linear layer (a real torch model, tiny enough for tests and
benchmarks). It shows what another MedCAT component needs to provide to be trained by
:class:`~medcat_den.training.Trainer` and the caikit trainer. Config: ``cuis`` (the
label set), ``dim``, ``buckets``, ``dropout``, ``threshold`` (minimum probability to
predict; below it the mention counts as not linked). :func:`toy_component_factory` is a
``component_factory`` for the caikit trainer: it builds the linker from a CAT's CDB and
keeps its weights in the pack folder (``toy_linker_state.pt``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medcat_den.errors import TrainingError

_STATE_FILE = Path("toy_linker_state.pt")  # a sub-folder would be read as a component


def _trigrams(text: str, buckets: int) -> list[int]:
    padded = f"  {text.lower()} "
    grams = [padded[i:i + 3] for i in range(len(padded) - 2)]
    # a fixed polynomial hash: Python's hash() is salted per process
    out = []
    for g in grams:
        h = 0
        for ch in g:
            h = (h * 131 + ord(ch)) % 1_000_000_007
        out.append(h % buckets)
    return out


class ToyLinker(nn.Module):
    """Mention text -> CUI classifier implementing the TrainableComponent protocol."""

    def __init__(self, cuis: list[str], dim: int = 32, buckets: int = 4096,
                 dropout: float = 0.1, threshold: float = 0.3) -> None:
        super().__init__()
        if not cuis:
            raise TrainingError("ToyLinker needs at least one CUI")
        self.cuis = sorted(set(cuis))
        self.cui_index = {c: i for i, c in enumerate(self.cuis)}
        self.buckets = buckets
        self.threshold = threshold
        self.bag = nn.EmbeddingBag(buckets, dim, mode="mean")
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, len(self.cuis))
        self.trained_epochs_ended = 0

    # -- protocol ---------------------------------------------------------------------

    def preprocess(self, export: dict[str, Any]) -> list[Any]:
        examples: list[tuple[list[int], int]] = []
        for project in export["projects"]:
            for doc in project["documents"]:
                for ann in doc.get("annotations", []):
                    if ann.get("deleted") or ann.get("killed") or ann.get("correct") is False:
                        continue
                    cui = ann["cui"]
                    if cui not in self.cui_index:
                        raise TrainingError(f"annotation CUI {cui!r} is not in the model's "
                                            f"concept database")
                    mention = doc["text"][ann["start"]:ann["end"]]
                    examples.append((_trigrams(mention, self.buckets), self.cui_index[cui]))
        return examples

    def collate(self, items: list[Any]) -> Any:
        ids = torch.tensor([i for grams, _ in items for i in grams], dtype=torch.long)
        offsets = torch.tensor([0] + [len(g) for g, _ in items[:-1]]).cumsum(0)
        labels = torch.tensor([label for _, label in items], dtype=torch.long)
        return ids, offsets, labels

    def logits(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.bag(ids, offsets)))  # type: ignore[no-any-return]

    def forward(self, batch: Any) -> torch.Tensor:
        ids, offsets, labels = batch
        return nn.functional.cross_entropy(self.logits(ids, offsets), labels)

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=weight_decay)

    def trainable_state_dict(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def load_trainable_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.load_state_dict(state_dict)

    def evaluate(self, export: dict[str, Any]) -> dict[str, float]:
        examples = self.preprocess(export)
        if not examples:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        was_training = self.training
        self.eval()
        with torch.no_grad():
            ids, offsets, labels = self.collate(examples)
            probs = torch.softmax(self.logits(ids, offsets), dim=-1)
        self.train(was_training)
        conf, pred = probs.max(dim=-1)
        predicted = conf >= self.threshold
        tp = int(((pred == labels) & predicted).sum())
        n_pred, n_gold = int(predicted.sum()), len(examples)
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f1, "tp": float(tp),
                "fp": float(n_pred - tp), "fn": float(n_gold - tp)}

    def on_train_end(self) -> None:
        self.trained_epochs_ended += 1

    # -- pack persistence (optional extras) ---------------------------------------------

    def save_into_pack(self, pack_dir: str | os.PathLike[str]) -> None:
        target = Path(pack_dir) / _STATE_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"cuis": self.cuis, "state": self.state_dict()}, target)

    def load_from_pack(self, pack_dir: str | os.PathLike[str]) -> bool:
        source = Path(pack_dir) / _STATE_FILE
        if not source.is_file():
            return False
        saved = torch.load(source, weights_only=True)
        if saved["cuis"] != self.cuis:
            raise TrainingError(f"{source}: saved for a different concept list")
        self.load_state_dict(saved["state"])
        return True


def toy_component_factory(cat: Any, pack_dir: str | None = None) -> ToyLinker:
    """caikit-trainer ``component_factory``: a ToyLinker over the CAT's CUIs."""
    torch.manual_seed(0)
    linker = ToyLinker(sorted(cat.cdb.cui2info))
    if pack_dir is not None:
        linker.load_from_pack(pack_dir)
    return linker


def make_toy_export(concepts: list[tuple[str, str]], n_docs: int = 40,
                    seed: int = 0) -> dict[str, Any]:
    """A real MedCATtrainer-format export mentioning ``(cui, name)`` pairs in sentences."""
    rng = random.Random(seed)
    templates = ["The patient has {}.", "History of {} noted.", "No sign of {} today.",
                 "{} was diagnosed last year.", "Family history: {}."]
    docs = []
    for d in range(n_docs):
        parts: list[str] = []
        anns: list[dict[str, Any]] = []
        text = ""
        for _ in range(rng.randint(1, 3)):
            cui, name = rng.choice(concepts)
            surface = name if rng.random() < 0.7 else name.upper() if rng.random() < 0.5 \
                else name.capitalize()
            tpl = rng.choice(templates)
            prefix = tpl.split("{}")[0]
            start = len(text) + len(prefix)
            sentence = tpl.format(surface)
            anns.append({"id": len(anns), "cui": cui, "start": start,
                         "end": start + len(surface), "value": surface, "correct": True,
                         "deleted": False, "killed": False, "validated": True})
            text += sentence + " "
            parts.append(sentence)
        docs.append({"id": d, "name": f"doc{d}", "text": text, "annotations": anns})
    return {"projects": [{"name": "toy", "id": 1, "cuis": "", "documents": docs}]}

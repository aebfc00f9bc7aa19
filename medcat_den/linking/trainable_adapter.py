"""``TrainableLinkerAdapter``: the structural training protocol over a trainable linker.

``medcat_den.training`` drives any object with ``preprocess``, ``collate``,
``forward``, ``configure_optimizer``, ``trainable_state_dict`` /
``load_trainable_state_dict``, ``evaluate``, ``on_train_end`` and ``train``;
this adapter maps them onto :class:`TrainableEmbeddingLinker` (whose own
``train`` name is taken by MedCAT's component protocols). No config keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from medcat_den.linking.trainable_linker import LinkBatch, TrainableEmbeddingLinker


class TrainableLinkerAdapter:
    """Protocol view of a :class:`TrainableEmbeddingLinker`."""

    def __init__(self, linker: TrainableEmbeddingLinker) -> None:
        self.linker = linker
        self.examples_prepared = 0  # items the last preprocess returned

    def preprocess(self, export: dict[str, Any]) -> list[Any]:
        items = list(self.linker.preprocess(export))
        self.examples_prepared = len(items)
        return items

    def collate(self, items: list[Any]) -> LinkBatch:
        return self.linker.collate(items)

    def forward(self, batch: Any) -> torch.Tensor:
        return self.linker.forward(batch)

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        return self.linker.configure_optimizer(lr, weight_decay)

    def trainable_state_dict(self) -> dict[str, Any]:
        return self.linker.trainable_state_dict()

    def load_trainable_state_dict(self, sd: dict[str, Any]) -> None:
        self.linker.load_trainable_state_dict(sd)

    def evaluate(self, export: dict[str, Any]) -> dict[str, float]:
        return self.linker.evaluate_export(export)

    def on_train_end(self) -> None:
        self.linker.on_train_end()

    def train(self, mode: bool) -> None:
        self.linker.train_mode(mode)

    def set_device(self, device: str) -> None:
        self.linker.set_device(device)

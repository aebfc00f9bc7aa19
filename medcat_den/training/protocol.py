"""The structural interface the :class:`~medcat_den.training.Trainer` drives.

Any MedCAT component (or an adapter around one) that implements these methods can be
fine-tuned by the training framework; nothing needs to inherit from or import
``medcat_den.training``. Optional extras the framework uses when present:

- ``set_device(device: str) -> None``: move the model to ``TrainerConfig.device``.
- ``save_into_pack(pack_dir: str) -> None``: write state that ``CAT.save_model_pack``
  does not already persist (used by the caikit trainer after saving the pack).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class TrainableComponent(Protocol):
    """A component that learns from MedCATtrainer exports."""

    def preprocess(self, export: dict[str, Any]) -> list[Any]:
        """Turn a MedCATtrainer export into training examples; raise on malformed data."""
        ...

    def collate(self, items: list[Any]) -> Any:
        """Turn a list of examples into one batch."""
        ...

    def forward(self, batch: Any) -> torch.Tensor:
        """Return the scalar training loss of a batch (the component is in train mode)."""
        ...

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """Return an optimizer over the trainable parameters."""
        ...

    def trainable_state_dict(self) -> dict[str, Any]:
        """Return the state that training changes (saved in checkpoints)."""
        ...

    def load_trainable_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state returned by :meth:`trainable_state_dict`."""
        ...

    def evaluate(self, export: dict[str, Any]) -> dict[str, float]:
        """Return metrics (at least ``precision``, ``recall``, ``f1``) on an export."""
        ...

    def on_train_end(self) -> None:
        """Finish training (e.g. re-embed names with the trained model)."""
        ...

    def train(self, mode: bool) -> object:
        """Switch between train mode (``True``) and evaluation mode (``False``)."""
        ...

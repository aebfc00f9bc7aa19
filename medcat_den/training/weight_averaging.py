"""Averaging the weights of the last epochs (stochastic weight averaging, SWA).

Reads one :class:`~medcat_den.training.config.TrainerConfig` key::

    average_weights_after: 0.5   # fraction of the epochs; null = off (the last weights)

With it, the weights at the end of every epoch after the first ``floor(epochs ×
average_weights_after)`` are summed, and training ends with their mean instead of the
last weights (before the component's ``on_train_end``). 0.5 over 7 epochs averages the
weights after epochs 4, 5, 6 and 7. One epoch-end snapshot is no average: with fewer
than two the last weights stay. The sums are part of every checkpoint, so a resumed run
ends with the same average.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch


def first_averaged_epoch(epochs: int, start: float) -> int:
    """The first (1-based) epoch whose end weights are averaged."""
    return math.floor(epochs * start) + 1


class WeightAverage:
    """Running sum of the epoch-end weights from ``first_epoch`` on; :meth:`apply` writes
    their mean back."""

    def __init__(self, first_epoch: int) -> None:
        self.first_epoch = first_epoch
        self.epochs: list[int] = []  # the epochs summed so far
        self._sums: list[torch.Tensor] = []

    def epoch_ended(self, params: Sequence[torch.nn.Parameter], epoch: int) -> None:
        """Add the weights after (1-based) ``epoch`` if it is one of the averaged epochs."""
        if epoch < self.first_epoch:
            return
        with torch.no_grad():
            if not self._sums:
                self._sums = [p.detach().float().clone() for p in params]
            else:
                for total, p in zip(self._sums, params, strict=True):
                    total.add_(p.detach().float())
        self.epochs.append(epoch)

    def apply(self, params: Sequence[torch.nn.Parameter]) -> bool:
        """Copy the mean into ``params``; False (nothing written) below two snapshots."""
        if len(self.epochs) < 2:
            return False
        with torch.no_grad():
            for total, p in zip(self._sums, params, strict=True):
                p.copy_((total / len(self.epochs)).to(device=p.device, dtype=p.dtype))
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "sums": [t.detach().cpu() for t in self._sums]}

    def load_state_dict(self, state: dict[str, Any],
                        params: Sequence[torch.nn.Parameter]) -> None:
        sums = list(state.get("sums", []))
        if sums and len(sums) != len(params):
            raise ValueError(f"the checkpoint averages {len(sums)} parameters, the component "
                             f"trains {len(params)}")
        self.epochs = [int(e) for e in state.get("epochs", [])]
        self._sums = ([t.to(p.device) for t, p in zip(sums, params, strict=True)]
                      if sums else [])

"""Checkpoints: everything needed to continue a run exactly.

A checkpoint is a folder ``checkpoint-<global_step>`` under the run's checkpoint
directory holding ``trainable.pt`` (the component's trainable state), ``optimizer.pt``,
``scheduler.pt``, ``rng.pt`` (torch, Python and NumPy generator states) and
``trainer_state.json``. Folders are written under a temporary name and renamed, so a
crash never leaves a half-written checkpoint. Config: ``directory``, ``keep`` (most
recent checkpoints kept; the best one is always kept too).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medcat_den.errors import TrainingError
from medcat_den.training.state import TrainerState

_log = logging.getLogger(__name__)
_NAME = re.compile(r"^checkpoint-(\d+)$")


def capture_rng() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],  # type: ignore[index]
    }


def restore_rng(rng: dict[str, Any]) -> None:
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


class CheckpointManager:
    """Writes, lists, rotates and reads checkpoints in one directory."""

    def __init__(self, directory: str | os.PathLike[str], keep: int = 2) -> None:
        self.directory = Path(directory)
        self.keep = keep

    def list(self) -> list[Path]:
        """Checkpoint folders, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir()
                 if p.is_dir() and (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        found = self.list()
        return found[-1] if found else None

    def save(self, component_state: dict[str, Any], optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler, state: TrainerState,
             averaged: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint for ``state.global_step`` (with ``averaged``, the weight
        averaging's sums, when that is on)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"checkpoint-{state.global_step}"
        tmp = self.directory / f".tmp-checkpoint-{state.global_step}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        torch.save(component_state, tmp / "trainable.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(capture_rng(), tmp / "rng.pt")
        if averaged is not None:
            torch.save(averaged, tmp / "averaged.pt")
        (tmp / "trainer_state.json").write_text(json.dumps(state.to_dict(), indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final

    def rotate(self, protect: str | None) -> None:
        """Delete all but the newest ``keep`` checkpoints, never ``protect``."""
        found = self.list()
        for path in found[:-self.keep] if len(found) > self.keep else []:
            if protect is not None and Path(protect) == path:
                continue
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Read a checkpoint folder into a dict of its parts."""
        folder = Path(path)
        needed = ["trainable.pt", "optimizer.pt", "scheduler.pt", "rng.pt",
                  "trainer_state.json"]
        missing = [n for n in needed if not (folder / n).is_file()]
        if missing:
            raise TrainingError(f"not a complete checkpoint: {folder} (missing "
                                f"{', '.join(missing)})")
        try:
            averaged = folder / "averaged.pt"
            return {
                "averaged": (torch.load(averaged, weights_only=True) if averaged.is_file()
                             else None),
                "trainable": torch.load(folder / "trainable.pt", weights_only=True),
                "optimizer": torch.load(folder / "optimizer.pt", weights_only=True),
                "scheduler": torch.load(folder / "scheduler.pt", weights_only=True),
                "rng": torch.load(folder / "rng.pt", weights_only=True),
                "state": TrainerState.from_dict(
                    json.loads((folder / "trainer_state.json").read_text())),
            }
        except (OSError, RuntimeError, ValueError) as err:
            raise TrainingError(f"unreadable checkpoint {folder}: {err}") from None

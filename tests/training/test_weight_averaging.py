"""``average_weights_after``: the Trainer ends with the mean of its last epochs' weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medcat_den.errors import ConfigError
from medcat_den.training import Trainer, TrainerCallback, TrainerConfig, TrainerControl, TrainerState
from medcat_den.training.toy import ToyLinker
from medcat_den.training.weight_averaging import first_averaged_epoch
from tests.training.test_trainer import DEVEL, TRAIN, Recorder, toy

BASE = {"epochs": 4, "batch_size": 8, "learning_rate": 0.05, "seed": 5, "lr_schedule": "constant",
        "eval_each_epoch": False}


class EpochWeights(TrainerCallback):
    """The component's weights at the end of every epoch (as training left them)."""

    def __init__(self, component: ToyLinker) -> None:
        self.component = component
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.weights.append({k: v.detach().clone()
                             for k, v in self.component.state_dict().items()})


def _fit(cfg: dict[str, object]) -> tuple[ToyLinker, EpochWeights, list[dict[str, object]]]:
    component = toy()
    seen = EpochWeights(component)
    result = Trainer(component, cfg, callbacks=[seen], progress=False).fit(TRAIN)
    return component, seen, result.history


def test_final_weights_are_the_mean_of_the_last_epochs() -> None:
    component, seen, history = _fit({**BASE, "average_weights_after": 0.5})
    assert len(seen.weights) == 4
    last = seen.weights[-1]
    for key, value in component.state_dict().items():
        expected = (seen.weights[2][key] + seen.weights[3][key]) / 2  # epochs 3 and 4
        assert torch.allclose(value, expected, atol=1e-6), key
    # the mean is not the last weights, else this test proves nothing
    assert not torch.allclose(component.out.weight, last["out.weight"])
    assert {"epoch": 4, "averaged_epochs": [3, 4]} in history


def test_off_by_default_and_no_average_of_one_epoch() -> None:
    for cfg in (BASE, {**BASE, "epochs": 1, "average_weights_after": 0.5}):
        component, seen, history = _fit(cfg)
        for key, value in component.state_dict().items():
            assert torch.equal(value, seen.weights[-1][key]), key
        assert not any("averaged_epochs" in h for h in history)


def test_which_epochs_are_averaged() -> None:
    assert first_averaged_epoch(7, 0.5) == 4
    assert first_averaged_epoch(3, 0.5) == 2
    assert first_averaged_epoch(4, 0.5) == 3
    assert first_averaged_epoch(10, 0.0) == 1


def test_resumed_run_ends_with_the_same_average(tmp_path: Path) -> None:
    cfg = {**BASE, "average_weights_after": 0.0, "checkpoint_every_steps": 3,
           "checkpoints_kept": 20}
    full, _, _ = _fit(cfg)
    steps_per_epoch = -(-40 // 8)
    stop = 2 * steps_per_epoch + 2  # mid-epoch 3, after the averaged epochs 1 and 2
    Trainer(toy(), cfg, callbacks=[Recorder(stop_at=stop)], checkpoint_dir=tmp_path / "a",
            progress=False).fit(TRAIN)
    ckpt = max((tmp_path / "a").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    assert (ckpt / "averaged.pt").is_file()
    resumed = toy(seed=99)
    Trainer(resumed, cfg, progress=False).fit(TRAIN, resume_from=ckpt)
    for key, value in full.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key], atol=1e-6), key


def test_best_checkpoint_wins_over_the_average(tmp_path: Path) -> None:
    cfg = {**BASE, "average_weights_after": 0.5, "eval_each_epoch": True,
           "checkpoint_each_epoch": True, "load_best_at_end": True, "checkpoints_kept": 10}
    component = toy()
    result = Trainer(component, cfg, checkpoint_dir=tmp_path, progress=False).fit(TRAIN, DEVEL)
    assert result.best_checkpoint is not None
    best = torch.load(Path(result.best_checkpoint) / "trainable.pt", weights_only=True)
    for key, value in component.state_dict().items():
        assert torch.equal(value, best[key]), key
    assert not any("averaged_epochs" in h for h in result.history)


@pytest.mark.parametrize("value", [1.0, -0.1, 2])
def test_bad_setting_is_named(value: float) -> None:
    with pytest.raises(ConfigError, match="average_weights_after"):
        TrainerConfig.from_any({"average_weights_after": value})

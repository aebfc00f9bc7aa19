"""The Trainer driving a real tiny torch component (ToyLinker) on real toy exports."""

from __future__ import annotations

import copy
import math
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from medcat_den.errors import ConfigError, TrainingCanceledError, TrainingError
from medcat_den.training import (
    CancellationToken,
    CheckpointManager,
    TrainableComponent,
    Trainer,
    TrainerCallback,
    TrainerConfig,
    TrainerControl,
    TrainerState,
    fingerprint,
)
from medcat_den.training.toy import ToyLinker, make_toy_export
from tests.conftest import TINY_CONCEPTS

CUIS = sorted({c for c, _ in TINY_CONCEPTS})
TRAIN = make_toy_export(TINY_CONCEPTS, n_docs=40, seed=1)
DEVEL = make_toy_export(TINY_CONCEPTS, n_docs=15, seed=2)


def toy(seed: int = 0) -> ToyLinker:
    torch.manual_seed(seed)
    return ToyLinker(CUIS)


class Recorder(TrainerCallback):
    def __init__(self, stop_at: int | None = None) -> None:
        self.events: list[str] = []
        self.stop_at = stop_at

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("train_begin")

    def on_epoch_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("epoch_begin")

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("step_end")
        if self.stop_at is not None and state.global_step >= self.stop_at:
            control.stop("test stop")

    def on_evaluate(self, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float]) -> None:
        self.events.append("evaluate")

    def on_save(self, state: TrainerState, control: TrainerControl, path: str) -> None:
        self.events.append("save")

    def on_epoch_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("epoch_end")

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("train_end")

    def on_exception(self, state: TrainerState, control: TrainerControl,
                     error: BaseException) -> None:
        self.events.append(f"exception:{type(error).__name__}")


def test_toy_is_a_trainable_component() -> None:
    assert isinstance(toy(), TrainableComponent)
    with pytest.raises(TrainingError, match="does not implement"):
        Trainer(object())  # type: ignore[arg-type]


def test_training_reduces_loss_and_improves_heldout_f1() -> None:
    comp = toy()
    trainer = Trainer(comp, {"epochs": 4, "batch_size": 8, "learning_rate": 0.1,
                             "warmup_ratio": 0.1}, progress=False)
    before = trainer.evaluate(DEVEL)
    result = trainer.fit(TRAIN, DEVEL)
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert losses[-1] < losses[0] * 0.5
    assert result.metrics["f1"] > before["f1"] + 0.3
    assert result.metrics["eval_loss"] < before["eval_loss"]
    assert {"precision", "recall", "f1", "eval_loss"} <= set(result.metrics)
    n = len(comp.preprocess(TRAIN))
    assert result.state.global_step == result.state.max_steps == 4 * -(-n // 8)
    assert comp.trained_epochs_ended == 1


def test_callbacks_order_and_gradient_accumulation(tmp_path: Path) -> None:
    rec = Recorder()
    trainer = Trainer(toy(), {"epochs": 2, "batch_size": 8, "gradient_accumulation_steps": 2,
                              "learning_rate": 0.01}, callbacks=[rec],
                      checkpoint_dir=tmp_path, progress=False)
    n = len(toy().preprocess(TRAIN))
    result = trainer.fit(TRAIN, DEVEL)
    per_epoch = math.ceil(math.ceil(n / 8) / 2)
    assert result.state.global_step == 2 * per_epoch
    assert rec.events[0] == "train_begin" and rec.events[-1] == "train_end"
    assert rec.events.count("epoch_begin") == rec.events.count("epoch_end") == 2
    assert rec.events.count("step_end") == 2 * per_epoch
    # epoch-end eval happens before the epoch-end checkpoint
    first_end = rec.events.index("epoch_end")
    assert rec.events[first_end - 1] == "evaluate"
    assert "save" in rec.events[first_end:]


def test_resume_from_checkpoint_matches_uninterrupted_run(tmp_path: Path) -> None:
    cfg = {"epochs": 3, "batch_size": 8, "learning_rate": 0.02, "gradient_accumulation_steps": 2,
           "checkpoint_every_steps": 2, "checkpoints_kept": 10, "seed": 7, "eval_every_steps": 3,
           "lr_schedule": "cosine", "warmup_steps": 2}
    full = toy()
    Trainer(full, cfg, progress=False).fit(TRAIN, DEVEL)

    interrupted = toy()
    Trainer(interrupted, cfg, callbacks=[Recorder(stop_at=4)], checkpoint_dir=tmp_path / "a",
            progress=False).fit(TRAIN, DEVEL)
    ckpt = tmp_path / "a" / "checkpoint-4"
    assert ckpt.is_dir()
    # a mid-run checkpoint must not equal the final weights (else the test proves nothing)
    assert not torch.equal(interrupted.out.weight, full.out.weight)

    resumed = toy(seed=123)  # different init: everything must come from the checkpoint
    result = Trainer(resumed, cfg, checkpoint_dir=tmp_path / "b", progress=False).fit(
        TRAIN, DEVEL, resume_from=ckpt)
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert result.state.global_step == result.state.max_steps


class SaveAndStop(TrainerCallback):
    """Checkpoints on demand at ``step`` (as a graceful stop does), then stops the run."""

    def __init__(self, trainer: Trainer, step: int) -> None:
        self.trainer, self.step = trainer, step
        self.saved: list[str | None] = []

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        if state.global_step == self.step:
            self.saved.append(self.trainer.save_checkpoint())
            control.stop("test stop")


def test_save_checkpoint_on_demand_resumes_exactly(tmp_path: Path) -> None:
    cfg = {"epochs": 2, "batch_size": 8, "learning_rate": 0.02, "seed": 3,
           "checkpoint_each_epoch": False, "lr_schedule": "cosine", "warmup_steps": 2}
    full = toy()
    Trainer(full, cfg, progress=False).fit(TRAIN)

    stopped = Trainer(toy(), cfg, checkpoint_dir=tmp_path / "a", progress=False)
    assert stopped.save_checkpoint() is None  # outside fit
    saver = SaveAndStop(stopped, step=3)
    stopped.callbacks.append(saver)
    stopped.fit(TRAIN)
    assert saver.saved == [str(tmp_path / "a" / "checkpoint-3")]
    assert [p.name for p in CheckpointManager(tmp_path / "a").list()] == ["checkpoint-3"]
    assert stopped.save_checkpoint() is None  # after fit

    no_dir = Trainer(toy(), cfg, progress=False)
    no_dir_saver = SaveAndStop(no_dir, step=1)
    no_dir.callbacks.append(no_dir_saver)
    no_dir.fit(TRAIN)
    assert no_dir_saver.saved == [None]

    resumed = toy(seed=123)
    Trainer(resumed, cfg, progress=False).fit(TRAIN, resume_from=saver.saved[0])
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_resume_rejects_checkpoint_from_other_settings(tmp_path: Path) -> None:
    Trainer(toy(), {"epochs": 1, "batch_size": 8}, checkpoint_dir=tmp_path,
            progress=False).fit(TRAIN)
    ckpt = CheckpointManager(tmp_path).latest()
    assert ckpt is not None
    with pytest.raises(TrainingError, match="different data or settings"):
        Trainer(toy(), {"epochs": 1, "batch_size": 4}, progress=False).fit(
            TRAIN, resume_from=ckpt)
    (ckpt / "optimizer.pt").unlink()
    with pytest.raises(TrainingError, match="missing optimizer.pt"):
        Trainer(toy(), {"epochs": 1, "batch_size": 8}, progress=False).fit(
            TRAIN, resume_from=ckpt)


def test_checkpoint_rotation_keeps_latest_and_best(tmp_path: Path) -> None:
    cfg = {"epochs": 2, "batch_size": 16, "learning_rate": 0.05, "checkpoints_kept": 1,
           "checkpoint_every_steps": 1, "checkpoint_metric": "eval_loss",
           "checkpoint_mode": "min"}
    result = Trainer(toy(), cfg, checkpoint_dir=tmp_path, progress=False).fit(TRAIN, DEVEL)
    kept = [p.name for p in CheckpointManager(tmp_path).list()]
    assert f"checkpoint-{result.state.global_step}" in kept
    assert result.best_checkpoint is not None
    assert Path(result.best_checkpoint).name in kept
    assert len(kept) <= 2


def test_early_stopping_stops() -> None:
    rec = Recorder()
    cfg = {"epochs": 20, "batch_size": 8, "learning_rate": 1e-6, "eval_every_steps": 1,
           "early_stopping_patience": 2, "early_stopping_min_delta": 0.5}
    result = Trainer(toy(), cfg, callbacks=[rec], progress=False).fit(TRAIN, DEVEL)
    assert result.state.stop_reason is not None
    assert "early stopping" in result.state.stop_reason
    # first eval sets the best, two more without a 0.5 improvement stop the run
    assert result.state.global_step == 3
    assert result.state.global_step < result.state.max_steps


def test_time_limit_stops_gracefully() -> None:
    result = Trainer(toy(), {"epochs": 50, "batch_size": 4, "time_limit_s": 1e-4},
                     progress=False).fit(TRAIN)
    assert result.state.global_step == 1
    assert result.state.stop_reason and "time limit" in result.state.stop_reason


def test_cancellation_in_process_and_by_file(tmp_path: Path) -> None:
    token = CancellationToken()

    class CancelAt(TrainerCallback):
        def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
            if state.global_step == 3:
                token.cancel()

    rec = Recorder()
    trainer = Trainer(toy(), {"epochs": 5, "batch_size": 4}, callbacks=[CancelAt(), rec],
                      cancel_token=token, progress=False)
    with pytest.raises(TrainingCanceledError, match="step 3"):
        trainer.fit(TRAIN)
    assert rec.events[-1] == "exception:TrainingCanceledError"
    assert "train_end" not in rec.events

    # another thread creates the request file once training has taken a step
    request = tmp_path / "cancel"
    file_token = CancellationToken(request, poll_interval_s=0.0)
    stepped = threading.Event()

    class SignalFirstStep(TrainerCallback):
        def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
            stepped.set()

    def request_cancel() -> None:
        if stepped.wait(120):
            request.touch()

    requester = threading.Thread(target=request_cancel)
    requester.start()
    try:
        with pytest.raises(TrainingCanceledError, match=r"step [1-9]"):
            Trainer(toy(), {"epochs": 100000, "batch_size": 4}, cancel_token=file_token,
                    callbacks=[SignalFirstStep()], progress=False).fit(TRAIN)
    finally:
        stepped.set()  # (the requester stops even if training never stepped)
        requester.join(120)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda e: e.pop("projects"), "missing or empty 'projects'"),
    (lambda e: e["projects"][0]["documents"][2]["annotations"][0].update(end=10_000),
     r"documents\[2\]\.annotations\[0\]: span .* out of range"),
    (lambda e: e["projects"][0]["documents"][1]["annotations"][0].update(cui="C9999999"),
     "'C9999999' is not in the model's concept database"),
    (lambda e: [d.update(annotations=[]) for d in e["projects"][0]["documents"]],
     "contains no annotations"),
    (lambda e: e["projects"][0]["documents"][0].pop("text"), r"documents\[0\]: missing 'text'"),
])
def test_malformed_exports_fail_fast_with_a_clear_message(mutate: Any, message: str) -> None:
    bad = copy.deepcopy(TRAIN)
    mutate(bad)
    comp = toy()
    before = {k: v.clone() for k, v in comp.state_dict().items()}
    with pytest.raises(TrainingError, match=message):
        Trainer(comp, {"epochs": 1}, progress=False).fit(bad)
    assert all(torch.equal(v, comp.state_dict()[k]) for k, v in before.items())


def test_bad_files_and_config(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="not found"):
        Trainer(toy(), progress=False).fit(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TrainingError, match="bad.json: not valid JSON"):
        Trainer(toy(), progress=False).fit(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="epochs"):
        TrainerConfig.from_any({"epochs": 0})
    with pytest.raises(ConfigError, match="bogus"):
        TrainerConfig.from_any({"bogus": 1})
    with pytest.raises(ConfigError, match="not both"):
        TrainerConfig.from_any({"warmup_steps": 2, "warmup_ratio": 0.1})
    with pytest.raises(TrainingError, match="checkpoint_metric 'nope'"):
        Trainer(toy(), {"checkpoint_metric": "nope"}, progress=False).fit(TRAIN, DEVEL)


def test_fingerprint_is_canonical(tmp_path: Path) -> None:
    import json
    path = tmp_path / "t.json"
    path.write_text(json.dumps(TRAIN, indent=3))
    from medcat_den.training import load_export
    assert fingerprint(load_export(path)) == fingerprint(TRAIN)
    other = copy.deepcopy(TRAIN)
    other["projects"][0]["documents"][0]["text"] += "x"
    assert fingerprint(other) != fingerprint(TRAIN)

"""The job-log protocol between the Ray job entrypoint and the caikit future (no cluster)."""

from __future__ import annotations

import base64

import pytest

from medcat_den.errors import ConfigError, TrainingCanceledError
from medcat_den.jobs import JobSpec
from medcat_den.jobs.graceful import GracefulStop
from medcat_den.jobs.ray_markers import log_tail, parse_markers

pytestmark = pytest.mark.ray


def test_markers_are_found_in_driver_and_forwarded_worker_lines() -> None:
    log = "\n".join([
        "Running entrypoint for job x: python -m medcat_den.jobs.ray_entry",
        'MEDCAT_DEN_PROGRESS {"phase": "loading"}',
        '(RayTrainWorker pid=42) MEDCAT_DEN_PROGRESS {"epoch": 1, "step": 3, "loss": 0.5}',
        'MEDCAT_DEN_PROGRESS {"epoch": 2, "step": 7, "loss": 0.25, "metrics": {"f1": 0.5}}',
        "MEDCAT_DEN_PROGRESS {not json",
        '(RayTrainWorker pid=42) MEDCAT_DEN_CHECKPOINT {"path": "/c/checkpoint-7", "step": 7}',
        "Traceback (most recent call last):",
        "TrainingError: boom",
        'MEDCAT_DEN_ERROR {"canceled": false, "message": "TrainingError: boom"}',
    ])
    found = parse_markers(log)
    assert found["MEDCAT_DEN_PROGRESS"] == {"phase": "loading", "epoch": 2, "step": 7,
                                            "loss": 0.25, "metrics": {"f1": 0.5}}
    assert found["MEDCAT_DEN_CHECKPOINT"]["path"] == "/c/checkpoint-7"
    assert found["MEDCAT_DEN_ERROR"]["message"] == "TrainingError: boom"
    assert "MEDCAT_DEN_RESULT" not in found
    tail = log_tail(log, 3)
    assert tail.splitlines()[-1].startswith("MEDCAT_DEN_ERROR")
    assert "PROGRESS" not in tail and "TrainingError: boom" in tail


def test_spec_round_trip_and_sigterm_phases() -> None:
    spec = JobSpec(id="a:b", uuid="0" * 32, trainer_name="ray", base_model="den://x",
                   train_data="den-data://datasets/x.json", aliases=["ü"])
    assert JobSpec.decode(spec.encode()) == spec
    with pytest.raises(ConfigError, match="invalid job spec"):
        JobSpec.decode(base64.urlsafe_b64encode(b'{"id": "a:b"}').decode())
    stop = GracefulStop()
    with pytest.raises(TrainingCanceledError):  # before training: abort at once
        stop.handle_sigterm(15, None)
    stop = GracefulStop()
    stop.phase = "training"
    stop.handle_sigterm(15, None)  # during training: only flag it (the loop checkpoints)
    assert stop.requested.is_set() and not stop.begin_push()
    stop = GracefulStop()
    assert stop.begin_push()
    stop.handle_sigterm(15, None)  # once pushing: ignored
    assert not stop.requested.is_set()

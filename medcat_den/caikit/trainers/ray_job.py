"""Entry point of one ``MEDCAT_RAY`` training job: ``python -m medcat_den.caikit.trainers.ray_job``.

Run by Ray's job supervisor on a cluster node as ``... ray_job --spec-b64 <spec>``; the
spec is small base64 JSON (references only: the base model is a den ref, the data are
``den-data://`` / ``s3://`` locations; see :mod:`medcat_den.caikit.trainers.ray_trainer`).
The job opens the den named by its spec and the environment (``MEDCAT_DEN_*``,
``AWS_ENDPOINT_URL``; credentials from the node's standard AWS chain), trains with
:class:`~medcat_den.training.Trainer` (in this process, or on ``num_workers`` Ray Train
workers: :mod:`medcat_den.caikit.trainers.ray_data_parallel`) and pushes the result with
lineage through :func:`~medcat_den.caikit.trainers.job_runner.push_result`.

Stopping: Ray's ``stop_job`` sends SIGTERM and, after ``RAY_JOB_STOP_WAIT_TIME_S``
(the trainer's ``stop_grace_period_s``), SIGKILL. On SIGTERM the training loop finishes
its current step, writes a checkpoint and exits without pushing; once the push has begun
the signal is ignored so a model is never half-published.

It talks to the caikit future through marker lines in the job log (stdout):
``MEDCAT_DEN_PROGRESS {json}``, ``MEDCAT_DEN_CHECKPOINT {json}``,
``MEDCAT_DEN_RESULT {json}`` (model id and ref) and ``MEDCAT_DEN_ERROR {json}``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from medcat_den.errors import TrainingCanceledError

_log = logging.getLogger(__name__)

PROGRESS = "MEDCAT_DEN_PROGRESS"
CHECKPOINT = "MEDCAT_DEN_CHECKPOINT"
RESULT = "MEDCAT_DEN_RESULT"
ERROR = "MEDCAT_DEN_ERROR"
MARKERS = (PROGRESS, CHECKPOINT, RESULT, ERROR)


def emit(marker: str, payload: Any) -> None:
    """Write one marker line to stdout (the job log) and flush it."""
    sys.stdout.write(f"{marker} {json.dumps(payload, default=str)}\n")
    sys.stdout.flush()


def encode_spec(spec: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(spec).encode("utf-8")).decode("ascii")


def decode_spec(text: str) -> dict[str, Any]:
    spec = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    if not isinstance(spec, dict):
        raise ValueError("the job spec must be a JSON object")
    return spec


class GracefulStop:
    """What SIGTERM means in each phase: raise before training, stop the loop during
    training (after a checkpoint), nothing once pushing has begun."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.phase = "loading"
        self._lock = threading.Lock()
        self.on_request: Callable[[], bool] | None = None  # e.g. tell data-parallel workers

    def request(self) -> bool:
        """Ask to stop; False if too late (the push has begun)."""
        with self._lock:
            if self.phase == "pushing":
                return False
            if self.on_request is not None and not self.on_request():
                return False
            self.requested.set()
            return True

    def begin_push(self) -> bool:
        """Enter the pushing phase unless a stop was requested first."""
        with self._lock:
            if self.requested.is_set():
                return False
            self.phase = "pushing"
            return True

    def handle_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if not self.request():
            _log.warning("stop requested while pushing the result: finishing the push")
            return
        _log.warning("stop requested (signal %d) in phase %s", signum, self.phase)
        if self.phase == "loading":
            raise TrainingCanceledError("training canceled before it started")


def scratch_dir(spec: dict[str, Any], create: bool = True) -> Path:
    """The job's folder on this node: checkpoints (kept after a stop) and the saved pack."""
    root = str(spec.get("checkpoint_dir") or os.path.join(tempfile.gettempdir(), "medcat-den-ray"))
    path = Path(root) / str(spec["uuid"])
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def run_single(spec: dict[str, Any], stop: GracefulStop) -> dict[str, Any]:
    """Train in this process; return what ``push_result`` needs (as ``train_to_pack``)."""
    from medcat.cat import CAT

    from medcat_den.caikit.trainers.job_runner import (
        JobProgressCallback,
        load_inputs,
        outcome_of,
        save_pack,
    )
    from medcat_den.caikit.trainers.ray_graceful import StopOnRequest
    from medcat_den.den.policies import check_fine_tune
    from medcat_den.training import CancellationToken, Trainer

    inputs = load_inputs(spec)
    den, config = inputs.den, inputs.config
    base_id = den.resolve(spec["base_model"])
    base_info = den.info(base_id)
    check_fine_tune(den, base_id)  # the remote den's policy, on the node that trains
    scratch = scratch_dir(spec)
    token = CancellationToken()
    with den.materialise(base_id) as base_pack:
        cat = CAT.load_model_pack(base_pack)
        component = inputs.factory(cat, base_pack)
        report = _reporter()
        trainer = Trainer(component, config, checkpoint_dir=scratch / "checkpoints",
                          cancel_token=token)
        trainer.callbacks.append(JobProgressCallback(report, interval_s=1.0))
        trainer.callbacks.append(StopOnRequest(trainer, stop.requested.is_set, token,
                                               on_checkpoint=_report_checkpoint))
        stop.phase = "training"
        if stop.requested.is_set():
            raise TrainingCanceledError("training canceled before it started")
        fit_started = time.perf_counter()
        result = trainer.fit(inputs.train_export, inputs.eval_export,
                             resume_from=spec.get("resume_from"))
        fit_seconds = time.perf_counter() - fit_started
        if token.canceled or stop.requested.is_set():
            raise TrainingCanceledError(f"training canceled at step {result.state.global_step}")
        stop.phase = "saving"
        out = save_pack(cat, component, scratch)
    return outcome_of(out, base_id, base_info.name, config.model_dump(mode="json"),
                      inputs.train_export, inputs.eval_export, result, fit_seconds)


def _reporter() -> Callable[[dict[str, Any]], None]:
    def report(progress: dict[str, Any]) -> None:
        emit(PROGRESS, progress)
    return report


def _report_checkpoint(path: str, step: int) -> None:
    emit(CHECKPOINT, {"path": path, "step": step})


def run(spec: dict[str, Any], stop: GracefulStop) -> dict[str, Any]:
    """Train (one process or data-parallel), push, and return the pushed model's info."""
    from medcat_den.caikit.trainers.job_runner import push_result

    emit(PROGRESS, {"phase": "loading"})
    if int(spec.get("num_workers") or 1) > 1:
        from medcat_den.caikit.trainers.ray_data_parallel import run_data_parallel

        return run_data_parallel(spec, stop)
    try:
        outcome = run_single(spec, stop)
        if not stop.begin_push():
            raise TrainingCanceledError("training canceled before the push")
        emit(PROGRESS, {"phase": "pushing"})
        info = push_result(spec, outcome)
    finally:  # checkpoints stay (resume_from=) unless the push succeeded
        scratch = scratch_dir(spec, create=False)
        shutil.rmtree(scratch / "output", ignore_errors=True)
        with contextlib.suppress(OSError):
            scratch.rmdir()  # only if nothing (no checkpoint) is left
    shutil.rmtree(scratch, ignore_errors=True)
    return {"model_id": info.model_id, "ref": info.ref, "metrics": outcome["metrics"],
            "steps": outcome["steps"], "epochs_completed": outcome["epochs_completed"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medcat_den.caikit.trainers.ray_job")
    parser.add_argument("--spec-b64", required=True, help="base64 JSON job spec")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("MEDCAT_DEN_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = GracefulStop()
    signal.signal(signal.SIGTERM, stop.handle_sigterm)
    started = time.monotonic()
    try:
        spec = decode_spec(args.spec_b64)
        result = run(spec, stop)
    except TrainingCanceledError as err:
        emit(ERROR, {"canceled": True, "message": str(err)})
        return 143
    except BaseException as err:  # report every failure in one line, then exit non-zero
        from medcat_den.caikit.trainers.job_runner import error_message
        from medcat_den.errors import DenError

        _log.error("training job failed: %s", error_message(err),
                   exc_info=not isinstance(err, DenError))
        emit(ERROR, {"canceled": False, "message": error_message(err)})
        return 1
    result["seconds"] = round(time.monotonic() - started, 3)
    emit(RESULT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

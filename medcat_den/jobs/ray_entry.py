"""Entry point of one ``MEDCAT_RAY`` training job: ``python -m medcat_den.jobs.ray_entry``.

Run by Ray's job supervisor on a cluster node as ``... ray_entry --spec-b64 <spec>``; the
spec is a base64 :class:`~medcat_den.jobs.spec.JobSpec` holding references only (the base
model is a den ref, the data are ``den-data://`` / ``s3://`` locations). The job opens the
den named by its spec and the environment (``MEDCAT_DEN_*``, ``AWS_ENDPOINT_URL``;
credentials from the node's standard AWS chain), runs
:func:`~medcat_den.jobs.run.run_training` (in this process, or on ``num_workers`` Ray
Train workers: :mod:`medcat_den.jobs.data_parallel`) and pushes the result with lineage
(:func:`~medcat_den.jobs.push.push_result`).

Stopping: Ray's ``stop_job`` sends SIGTERM and, after ``RAY_JOB_STOP_WAIT_TIME_S`` (the
trainer's ``stop_grace_period_s``), SIGKILL; see :mod:`medcat_den.jobs.graceful`. The job
talks to the caikit future through marker lines in its log
(:mod:`medcat_den.jobs.ray_markers`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import sys
import time

from medcat_den.errors import DenError, TrainingCanceledError
from medcat_den.jobs.graceful import GracefulStop, StopOnRequest
from medcat_den.jobs.outcome import PushedModel
from medcat_den.jobs.progress import Progress
from medcat_den.jobs.push import push_result
from medcat_den.jobs.ray_markers import ERROR, RESULT, emit, emit_checkpoint, emit_progress
from medcat_den.jobs.run import RunHooks, error_message, train_to_pack
from medcat_den.jobs.spec import JobSpec
from medcat_den.training import CancellationToken, Trainer, TrainerCallback

_log = logging.getLogger(__name__)


def run_single(spec: JobSpec, stop: GracefulStop) -> PushedModel:
    """Train in this process, then push unless a stop came first."""

    def stop_callbacks(trainer: Trainer, token: CancellationToken) -> list[TrainerCallback]:
        return [StopOnRequest(trainer, stop.requested.is_set, token,
                              on_checkpoint=emit_checkpoint)]

    scratch = spec.scratch_dir()
    try:
        outcome = train_to_pack(spec, RunHooks(
            report=emit_progress, progress_interval_s=1.0, scratch=scratch,
            stop_requested=stop.requested.is_set, on_phase=stop.set_phase,
            callbacks=stop_callbacks))
        if not stop.begin_push():
            raise TrainingCanceledError("training canceled before the push")
        emit_progress(Progress(phase="pushing"))
        info = push_result(spec, outcome)
    finally:  # checkpoints stay (resume_from=) unless the push succeeded
        shutil.rmtree(scratch / "output", ignore_errors=True)
        with contextlib.suppress(OSError):
            scratch.rmdir()  # only if nothing (no checkpoint) is left
    shutil.rmtree(scratch, ignore_errors=True)
    return PushedModel(model_id=info.model_id, ref=info.ref, metrics=outcome.metrics,
                       steps=outcome.steps, epochs_completed=outcome.epochs_completed)


def run(spec: JobSpec, stop: GracefulStop) -> PushedModel:
    """Train (one process or data-parallel), push, and return the pushed model."""
    if spec.num_workers > 1:
        from medcat_den.jobs.data_parallel import run_data_parallel

        return run_data_parallel(spec, stop)
    return run_single(spec, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medcat_den.jobs.ray_entry")
    parser.add_argument("--spec-b64", required=True, help="base64 JSON job spec")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("MEDCAT_DEN_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = GracefulStop()
    signal.signal(signal.SIGTERM, stop.handle_sigterm)
    started = time.monotonic()
    try:
        result = run(JobSpec.decode(args.spec_b64), stop)
    except TrainingCanceledError as err:
        emit(ERROR, {"canceled": True, "message": str(err)})
        return 143
    except BaseException as err:  # report every failure in one line, then exit non-zero
        _log.error("training job failed: %s", error_message(err),
                   exc_info=not isinstance(err, DenError))
        emit(ERROR, {"canceled": False, "message": error_message(err)})
        return 1
    emit(RESULT, result.model_copy(update={
        "seconds": round(time.monotonic() - started, 3)}).model_dump())
    return 0


if __name__ == "__main__":
    sys.exit(main())

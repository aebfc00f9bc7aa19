"""One job as seen by the process that owns it: runs it, tracks it, cancels it.

The job runs :func:`~medcat_den.jobs.run.run_training` in the worker
thread (``use_subprocess: false``) or in a child process that it monitors
(``use_subprocess: true``), then pushes the result. Only this object writes the job's
record, so progress coming from a subprocess is applied here. ``cancel()`` marks the
job CANCELED at once (the worker stops at its next step; a subprocess is terminated)
unless the push has already begun, in which case the job completes.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from medcat_den.errors import TrainingCanceledError, TrainingError
from medcat_den.jobs.outcome import JobOutcome
from medcat_den.jobs.progress import Progress
from medcat_den.jobs.push import push_result
from medcat_den.jobs.record import JobRecord
from medcat_den.jobs.run import RunHooks, error_message, train_to_pack
from medcat_den.jobs.spec import JobSpec
from medcat_den.jobs.store import JobStore
from medcat_den.jobs.subprocess_entry import subprocess_main
from medcat_den.training import CancellationToken

_log = logging.getLogger(__name__)
_PERSIST_INTERVAL_S = 0.5


class TrainingJob:
    """Owner-side state machine of one job (QUEUED → RUNNING → terminal)."""

    def __init__(self, record: JobRecord, spec: JobSpec, store: JobStore, *,
                 use_subprocess: bool, start_method: str) -> None:
        self.record = record
        self.spec = spec
        self.store = store
        self.use_subprocess = use_subprocess
        self.start_method = start_method
        self.token = CancellationToken(spec.cancel_file)
        self.done = threading.Event()
        self._lock = threading.RLock()
        self._last_persist = 0.0
        self._future: Future[None] | None = None

    # -- owner API ----------------------------------------------------------------------

    def submit(self, executor: ThreadPoolExecutor) -> None:
        self._future = executor.submit(self.run)

    def snapshot(self) -> JobRecord:
        with self._lock:
            return self.record.model_copy(deep=True)

    def cancel(self) -> None:
        with self._lock:
            if self.record.terminal:
                return
            if self.record.phase == "pushing":
                _log.info("job %s is already pushing its result; too late to cancel",
                          self.record.id)
                return
            self.token.cancel()
            was_queued = self.record.status == "QUEUED"
            self._finish("CANCELED")
        if was_queued and self._future is not None and self._future.cancel():
            self.store.cleanup(self.record.uuid)
            self.done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # -- worker -------------------------------------------------------------------------

    def run(self) -> None:
        try:
            with self._lock:
                if self.record.terminal:
                    return
                self.record.status = "RUNNING"
                self.record.started_at = datetime.now()
                self._persist(force=True)
            if self.use_subprocess:
                outcome = self._run_subprocess()
            else:
                outcome = train_to_pack(self.spec, RunHooks(report=self._on_progress,
                                                            token=self.token))
            with self._lock:
                if self.token.canceled:
                    raise TrainingCanceledError("training canceled")
                self.record.phase = "pushing"
                self._persist(force=True)
            info = push_result(self.spec, outcome)
            with self._lock:
                self.record.result_model_id = info.model_id
                self.record.result_ref = info.ref
                self.record.final_metrics = dict(outcome.metrics)
                self.record.fit_seconds = outcome.fit_seconds
                self.record.fit_cpu_seconds = outcome.fit_cpu_seconds
                self._finish("COMPLETED")
            _log.info("training job %s pushed %s (%s)", self.record.id, info.ref, info.model_id)
        except TrainingCanceledError:
            with self._lock:
                self._finish("CANCELED")
        except BaseException as err:
            _log.warning("training job %s failed: %s", self.record.id, error_message(err),
                         exc_info=not isinstance(err, TrainingError))
            with self._lock:
                self._finish("ERRORED", error_message(err))
        finally:
            self.store.cleanup(self.record.uuid)
            self.done.set()

    def _finish(self, status: str, error: str | None = None) -> None:
        if self.record.terminal:
            return  # e.g. CANCELED by request while the worker was winding down
        self.record.status = status
        if error:
            self.record.errors.append(error)
        self.record.phase = "done"
        self.record.completed_at = datetime.now()
        self._persist(force=True)

    def _on_progress(self, progress: Progress) -> None:
        fields = progress.fields()
        with self._lock:
            if self.record.terminal:
                return
            for key, value in fields.items():
                if key == "metrics":
                    self.record.metrics = {k: float(v) for k, v in value.items()}
                elif value is not None or key == "loss":
                    setattr(self.record, key, value)
            self._persist(force="phase" in fields or "metrics" in fields)

    def _persist(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_persist >= _PERSIST_INTERVAL_S:
            self._last_persist = now
            self.store.write(self.record)

    def _run_subprocess(self) -> JobOutcome:
        ctx = multiprocessing.get_context(self.start_method)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(  # type: ignore[attr-defined]
            target=subprocess_main, args=(self.spec, sender), daemon=True,
            name=f"medcat-train-{self.record.uuid[:8]}")
        proc.start()
        sender.close()
        with self._lock:
            self.record.worker_pid = proc.pid
            self._persist(force=True)
        try:
            while True:
                if self.token.canceled:
                    raise TrainingCanceledError("training canceled")
                if receiver.poll(0.1):
                    try:
                        kind, payload = receiver.recv()
                    except (EOFError, OSError):
                        break
                    if kind == "progress":
                        self._on_progress(payload)
                    elif kind == "done":
                        return JobOutcome.model_validate(payload)
                    elif kind == "canceled":
                        raise TrainingCanceledError(str(payload))
                    else:
                        raise TrainingError(str(payload))
                elif not proc.is_alive():
                    break
            proc.join(5)
            code = proc.exitcode
            if code is not None and code < 0:
                raise TrainingError(f"the training subprocess (pid {proc.pid}) was killed by "
                                    f"{signal.Signals(-code).name}; nothing was pushed")
            raise TrainingError(f"the training subprocess (pid {proc.pid}) exited with code "
                                f"{code} without a result; nothing was pushed")
        finally:
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
                if proc.is_alive():
                    proc.kill()
                    proc.join(2)
            with contextlib.suppress(OSError):
                receiver.close()

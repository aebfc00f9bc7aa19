"""The job-log protocol between a Ray training job and its caikit future.

The job writes marker lines to stdout (its Ray job log): ``MEDCAT_DEN_PROGRESS {json}``
(a :class:`~medcat_den.jobs.progress.Progress`), ``MEDCAT_DEN_CHECKPOINT {json}`` (path
and step of the checkpoint written on a graceful stop), ``MEDCAT_DEN_RESULT {json}`` (a
:class:`~medcat_den.jobs.outcome.PushedModel`) and ``MEDCAT_DEN_ERROR {json}``
(``canceled``, ``message``). Lines forwarded from Ray Train workers carry a
``(RayTrainWorker pid=...)`` prefix, so markers are found anywhere in a line.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from medcat_den.jobs.progress import Progress

PROGRESS = "MEDCAT_DEN_PROGRESS"
CHECKPOINT = "MEDCAT_DEN_CHECKPOINT"
RESULT = "MEDCAT_DEN_RESULT"
ERROR = "MEDCAT_DEN_ERROR"
MARKERS = (PROGRESS, CHECKPOINT, RESULT, ERROR)
LOG_TAIL_LINES = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def emit(marker: str, payload: Any) -> None:
    """Write one marker line to stdout (the job log) and flush it."""
    sys.stdout.write(f"{marker} {json.dumps(payload, default=str)}\n")
    sys.stdout.flush()


def emit_progress(progress: Progress) -> None:
    emit(PROGRESS, progress.fields())


def emit_checkpoint(path: str, step: int) -> None:
    emit(CHECKPOINT, {"path": path, "step": step})


def parse_markers(logs: str) -> dict[str, Any]:
    """The last payload of each marker in a job log (progress lines are merged, so a
    phase-only line keeps the latest step / epoch)."""
    found: dict[str, Any] = {}
    progress: dict[str, Any] = {}
    for line in logs.splitlines():
        for marker in MARKERS:
            at = line.find(marker + " ")
            if at < 0:
                continue
            try:
                payload = json.loads(line[at + len(marker) + 1:])
            except json.JSONDecodeError:
                continue
            if marker == PROGRESS and isinstance(payload, dict):
                progress.update(payload)
            else:
                found[marker] = payload
    if progress:
        found[PROGRESS] = progress
    return found


def log_tail(logs: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` meaningful lines of a job log (no markers, no colour codes)."""
    kept = [ln for ln in _ANSI.sub("", logs).splitlines()
            if ln.strip() and not any(m in ln for m in (PROGRESS, RESULT))]
    return "\n".join(kept[-lines:])

"""Job records on disk, shared by every trainer instance and process.

Layout under ``state_dir`` (config key ``state_dir``, else ``MEDCAT_DEN_STATE_DIR``,
else the user state dir): ``jobs/<uuid>.json`` (the record, written atomically by the
owning process only), ``jobs/<uuid>.cancel`` (a cancel request any process may create),
``jobs/<uuid>/`` (scratch: checkpoints and the trained pack before it is pushed; removed
when the job ends). Owner liveness uses the pid plus the process start time, so a
recycled pid is not mistaken for the owner.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from platformdirs import user_state_dir
from pydantic import ValidationError

from medcat_den.errors import ConfigError, TrainingError
from medcat_den.jobs.record import JobRecord

_log = logging.getLogger(__name__)
_UUID = re.compile(r"^[0-9a-f]{32}$")


def default_state_dir() -> Path:
    env = os.environ.get("MEDCAT_DEN_STATE_DIR")
    return Path(env) if env else Path(user_state_dir("medcat_den"))


def process_start(pid: int) -> str:
    """An identifier of the process' start (Linux: /proc start ticks); '' if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, start: str) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not start or not Path("/proc").is_dir() or process_start(pid) == start


def uuid_of(training_id: str) -> str:
    """The uuid part of a training id (``<hashed name>:<uuid>`` or a bare uuid)."""
    tail = training_id.rsplit(":", 1)[-1]
    if not _UUID.match(tail):
        raise TrainingError(f"not a medcat_den training id: {training_id!r}")
    return tail


class JobStore:
    """Reads and writes job records in ``<state_dir>/jobs``."""

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(state_dir) if state_dir else default_state_dir()
        self.jobs = self.root / "jobs"
        try:
            self.jobs.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"cannot create the job state dir {self.jobs}: {err}") from None

    def record_path(self, uuid: str) -> Path:
        return self.jobs / f"{uuid}.json"

    def cancel_path(self, uuid: str) -> Path:
        return self.jobs / f"{uuid}.cancel"

    def scratch(self, uuid: str) -> Path:
        return self.jobs / uuid

    def write(self, record: JobRecord) -> None:
        data = record.model_dump_json(indent=1)
        fd, tmp = tempfile.mkstemp(prefix=f".{record.uuid}.", dir=self.jobs)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(data)
            os.replace(tmp, self.record_path(record.uuid))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read(self, training_id: str) -> JobRecord | None:
        path = self.record_path(uuid_of(training_id))
        try:
            return JobRecord.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, json.JSONDecodeError) as err:
            raise TrainingError(f"unreadable job record {path}: {err}") from None

    def read_checked(self, training_id: str) -> JobRecord | None:
        """Read a record; a non-terminal job whose owner process is gone becomes ERRORED."""
        record = self.read(training_id)
        if record is None or record.terminal or record.owner_pid == os.getpid():
            return record
        if process_alive(record.owner_pid, record.owner_start):
            return record
        record.status = "ERRORED"
        record.errors.append(
            f"interrupted: the process that ran job {record.id} (pid {record.owner_pid}) "
            "ended before the job finished; nothing was pushed")
        record.completed_at = record.completed_at or datetime.now()
        record.phase = "done"
        with contextlib.suppress(OSError):
            self.write(record)
        self.cleanup(record.uuid)
        return record

    def list(self) -> list[JobRecord]:
        out = []
        for path in sorted(self.jobs.glob("*.json")):
            try:
                record = self.read_checked(path.stem)
            except TrainingError as err:
                _log.warning("%s", err)
                continue
            if record is not None:
                out.append(record)
        out.sort(key=lambda r: r.submitted_at)
        return out

    def request_cancel(self, training_id: str) -> None:
        self.cancel_path(uuid_of(training_id)).touch()

    def cancel_requested(self, uuid: str) -> bool:
        return self.cancel_path(uuid).exists()

    def cleanup(self, uuid: str) -> None:
        """Remove the job's scratch folder and cancel request (the record stays)."""
        shutil.rmtree(self.scratch(uuid), ignore_errors=True)
        with contextlib.suppress(OSError):
            self.cancel_path(uuid).unlink()

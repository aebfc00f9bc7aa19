"""A private single-node Ray head on 127.0.0.1, started and stopped by PID.

Used by the ``MEDCAT_RAY`` caikit trainer when no ``address`` is configured, by the Ray tests
and by ``bench/ray_bench.py``. The head runs as ``ray start --head --block`` in its own
session with every port chosen free on loopback and its own ``--temp-dir``, so it never
touches another Ray on the machine (``ray stop`` would). :meth:`LocalRayHead.stop`
sends SIGTERM to that PID (Ray then stops every process it started), waits, and
SIGKILLs the head's process group if anything is left.

Config (constructor): ``num_cpus`` (logical CPUs, default 2), ``num_gpus`` (default 0),
``python`` (the interpreter whose ``ray`` module starts the head; default this one),
``env`` (extra environment for the head and so for its workers), ``start_timeout_s``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from medcat_den.errors import BackendError

_log = logging.getLogger(__name__)


def _free_ports(count: int, avoid: range) -> list[int]:
    socks: list[socket.socket] = []
    try:
        while len(socks) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            if int(s.getsockname()[1]) in avoid:
                s.close()
                continue
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalRayHead:
    """One Ray head process tree on loopback (see module docstring)."""

    def __init__(self, num_cpus: int = 2, num_gpus: int = 0, *, python: str | None = None,
                 env: dict[str, str] | None = None, start_timeout_s: float = 90.0) -> None:
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.python = python or sys.executable
        self.env = dict(env or {})
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.temp_dir: str | None = None
        self.dashboard_url = ""
        self.gcs_address = ""
        self._agent_port = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> LocalRayHead:
        """Start the head and wait until its job server answers."""
        if self.proc is not None:
            return self
        # unix socket paths are limited to ~107 bytes: keep the temp dir short
        self.temp_dir = tempfile.mkdtemp(prefix="mdray-", dir="/tmp" if os.name == "posix"
                                         else None)
        base = 20000 + (os.getpid() * 97) % 20000
        (gcs, dash, client, agent_http, agent_grpc, metrics, rt_agent, node_mgr,
         obj_mgr) = _free_ports(9, avoid=range(base, base + 1000))
        cmd = [
            self.python, "-m", "ray.scripts.scripts", "start", "--head", "--block",
            "--node-ip-address=127.0.0.1", f"--port={gcs}",
            "--include-dashboard=true", "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
            f"--dashboard-agent-listen-port={agent_http}",
            f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
            f"--runtime-env-agent-port={rt_agent}", f"--node-manager-port={node_mgr}",
            f"--object-manager-port={obj_mgr}", f"--min-worker-port={base}",
            f"--max-worker-port={base + 999}", f"--num-cpus={self.num_cpus}",
            f"--num-gpus={self.num_gpus}", f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats", "--object-store-memory=100000000",
        ]
        env = {**os.environ, **self.env, "RAY_USAGE_STATS_ENABLED": "0",
               "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
        log_path = Path(self.temp_dir) / "head.log"
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self.gcs_address = f"127.0.0.1:{gcs}"
        self._agent_port = agent_http
        self.dashboard_url = f"http://127.0.0.1:{dash}"
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self.proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise BackendError(f"the local Ray head exited at start (code "
                                   f"{self.proc.returncode if self.proc else '?'}): {tail}")
            if self._job_server_up():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise BackendError(f"the local Ray head did not answer within "
                                   f"{self.start_timeout_s:g} s")
            time.sleep(0.25)
        _log.info("local Ray head pid %s, dashboard %s", self.pid, self.dashboard_url)
        return self

    def _job_server_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.dashboard_url}/api/version", timeout=2) as r:
                if r.status != 200:
                    return False
            with urllib.request.urlopen(f"{self.dashboard_url}/api/jobs/", timeout=2) as r:
                if r.status != 200:
                    return False
        except (urllib.error.URLError, OSError, ValueError):
            return False
        # jobs are started by the node's dashboard agent, which comes up a little later; a
        # submission before it is there waits for it (seconds)
        try:
            with socket.create_connection(("127.0.0.1", self._agent_port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM the head (it stops its processes), then SIGKILL its group if needed."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = None
            with contextlib.suppress(ProcessLookupError):
                pgid = os.getpgid(proc.pid)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if pgid is not None and pgid == proc.pid:
                # leftovers in the head's own session only (it was started with setsid)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            for pid in self._leftovers():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None

    def _leftovers(self) -> list[int]:
        """Processes of this cluster in other sessions (job entrypoints run with setsid):
        their command line names our temp dir or their environment our GCS address."""
        if not self.temp_dir or not os.path.isdir("/proc"):
            return []
        temp = self.temp_dir.encode()
        # Ray may advertise the node's other address, so match the GCS port only
        port = b":" + self.gcs_address.rsplit(":", 1)[-1].encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except OSError:
                continue
            if temp in cmdline or any(e.startswith(b"RAY_ADDRESS=") and e.endswith(port)
                                      for e in environ):
                found.append(int(entry))
        return found

    def __enter__(self) -> LocalRayHead:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

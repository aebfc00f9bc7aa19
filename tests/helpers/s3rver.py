"""A second, independent S3 implementation for tests: ``s3rver`` (npm) on 127.0.0.1.

It is installed by the project's setup into ``<repo>/.node``
(``npm install --prefix .node s3rver``). Missing, the tests that need it are
skipped on a developer machine and FAIL in CI (``CI`` set), so CI cannot pass
without exercising it. The server is started on a free port with its own data
folder and stopped by PID.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
S3RVER = REPO / ".node" / "node_modules" / ".bin" / "s3rver"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3rver:
    """A running s3rver process."""

    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(S3RVER), "-d", str(data_dir), "-a", "127.0.0.1", "-p", str(self.port),
             "--silent", "--allow-mismatched-signatures", "--no-vhost-buckets"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"s3rver exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("s3rver did not start listening within 60 s") from None
                time.sleep(0.1)

    def new_bucket(self) -> str:
        import boto3

        name = f"den-{uuid.uuid4().hex[:12]}"
        boto3.session.Session().client(  # a fresh session: the default one caches moto's keys
            "s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(
            Bucket=name)
        return name

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def require_s3rver() -> None:
    if S3RVER.exists():
        return
    msg = (f"s3rver is not installed at {S3RVER}: run `npm install --prefix .node s3rver` "
           "(make setup does)")
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3rver]:
    """s3rver on loopback for one test module (with s3rver's own fixed access key)."""
    require_s3rver()
    from tests.helpers.s3 import s3_env

    env = {**s3_env(), "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    server = S3rver(tmp_path_factory.mktemp("s3rver"))
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

"""A real S3 API on loopback for tests: moto's threaded server, observable and stoppable.

``S3Server`` is moto's ``ThreadedMotoServer`` with a thin WSGI layer that
(1) runs requests one at a time, as S3 itself makes conditional writes atomic
(moto's check-then-write would otherwise race between its threads),
(2) counts requests by operation, so tests can assert how many downloads happened,
(3) can "pull the plug": drop the connection of a chosen request and close the
listening socket, so clients see a dead server, then come back on the same port
with the same data; (4) cut one response body short mid-stream; (5) hold chosen
requests until the test releases them (a slow client), without blocking others;
(6) answer one chosen request with an S3 error (e.g. 503 SlowDown).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

FAKE_KEY_ID = "AKIAMEDCATDENTESTKEY"
FAKE_SECRET = "s3cr3t-MEDCATDEN-do-not-log-8f1e2d"


def s3_env() -> dict[str, str]:
    """Standard-chain credentials for the test server (distinctive, so leaks are detectable)."""
    return {
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def operation_of(environ: dict[str, Any]) -> str:
    method = environ.get("REQUEST_METHOD", "")
    query = environ.get("QUERY_STRING", "")
    path = environ.get("PATH_INFO", "")
    if method == "PUT" and "partNumber=" in query:
        return "UploadPart"
    if method == "POST" and "uploads" in query.split("&"):
        return "CreateMultipartUpload"
    if method == "POST" and "uploadId=" in query:
        return "CompleteMultipartUpload"
    if method == "DELETE" and "uploadId=" in query:
        return "AbortMultipartUpload"
    if method == "GET" and path.count("/") <= 1:
        return "ListObjects"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject",
            "DELETE": "DeleteObject"}.get(method, method)


class _Layer:
    def __init__(self, app: Any, server: S3Server) -> None:
        self.app = app
        self.server = server
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        op = operation_of(environ)
        srv = self.server
        hold = srv.hold
        if hold is not None and hold(op, environ):
            srv.held.set()
            if not srv.release.wait(timeout=120):
                raise ConnectionAbortedError("held request was never released")
        fail = srv.fail
        if fail is not None and fail(op, environ):
            srv.fail = None
            srv.requests[f"failed {op}"] += 1
            body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                    b"<Message>Please reduce your request rate.</Message></Error>")
            start_response("503 Slow Down", [("Content-Type", "application/xml"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        if srv.down or (srv.trip is not None and srv.trip(op, environ)):
            srv.trip = None
            srv.down = True
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            threading.Thread(target=srv._close_listener, daemon=True).start()
            raise ConnectionAbortedError("test server pulled the plug")
        with self.lock:
            srv.requests[op] += 1
            srv.paths.append((op, environ.get("PATH_INFO", "")))
            body = list(self.app(environ, start_response))
        if srv.cut is not None and srv.cut(op, environ):
            srv.cut = None
            return _cut_short(b"".join(body), environ.get("werkzeug.socket"))
        return body


def _cut_short(data: bytes, sock: socket.socket | None) -> Iterator[bytes]:
    """Send the first half of a response body, then drop the connection."""
    yield data[: len(data) // 2]
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("test server cut the response short")


class S3Server(ThreadedMotoServer):
    """moto's S3 on 127.0.0.1 with request counting and a plug to pull."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.requests: Counter[str] = Counter()
        self.paths: list[tuple[str, str]] = []
        self.down = False
        self.trip: Callable[[str, dict[str, Any]], bool] | None = None
        self.cut: Callable[[str, dict[str, Any]], bool] | None = None
        self.hold: Callable[[str, dict[str, Any]], bool] | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.fail: Callable[[str, dict[str, Any]], bool] | None = None

    def _server_entry(self) -> None:
        app = _Layer(DomainDispatcherApplication(create_backend_app), self)
        self._server = make_server(self._ip_address, self._port, app, True,
                                   request_handler=MotoRequestHandler)
        self._port = self._server.server_address[1]  # restart on the same port
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _close_listener(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()
            server.server_close()

    def stop(self) -> None:
        self._close_listener()
        if self._thread is not None:
            self._thread.join()

    def restart(self) -> None:
        """Come back on the same port with the same buckets and objects."""
        self.stop()
        self.down = False
        self.trip = None
        self.start()

    def count(self, op: str, path_contains: str = "") -> int:
        return sum(1 for o, p in self.paths if o == op and path_contains in p)

    def reset_counts(self) -> None:
        self.requests.clear()
        self.paths.clear()

    def put_direct(self, bucket: str, items: Iterable[tuple[str, bytes]]) -> None:
        """Store objects straight into moto's backend, without requests (cheap test setup)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        for key, data in items:
            backend.put_object(bucket, key, data)

    def copy_direct(self, src: str, dst: str) -> None:
        """Copy every object of bucket ``src`` into bucket ``dst`` inside moto's backend (the
        same keys and bytes, without requests: a fresh copy of a den costs no push)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        self.put_direct(dst, [(k.name, k.value) for k in backend.buckets[src].keys.values()])

    def total(self) -> int:
        """Requests counted since the last reset."""
        return len(self.paths)

    def new_bucket(self) -> str:
        import boto3

        name = f"den-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(
            Bucket=name)
        return name


_shared: S3Server | None = None
_users = 0


def start_server() -> Iterator[S3Server]:
    """Generator for fixtures: one server per test session, shared by every fixture using it.

    Sets standard-chain credentials and ``AWS_ENDPOINT_URL`` while any user is active.
    """
    global _shared, _users
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    saved = {k: os.environ.get(k) for k in [*s3_env(), "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    if _shared is None:
        server = S3Server()
        server.start()
        _shared = server
    server = _shared
    _users += 1
    os.environ.update(s3_env())
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    try:
        yield server
    finally:
        _users -= 1
        if _users == 0:
            server.stop()
            _shared = None
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The S3 server of a test directory (import into its conftest with :func:`s3_url`)."""
    yield from start_server()


@pytest.fixture()
def s3_url(s3_server: S3Server) -> str:
    """``s3://<fresh bucket>/den`` on the test server."""
    return f"s3://{s3_server.new_bucket()}/den"

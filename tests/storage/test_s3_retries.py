"""Retry warnings name the S3 error code and HTTP status."""

from __future__ import annotations

import logging

import pytest

from medcat_den.storage.s3 import S3Backend
from tests.helpers.s3 import S3Server


def test_retry_log_carries_error_code_and_http_status(
        s3_url: str, s3_server: S3Server, caplog: pytest.LogCaptureFixture) -> None:
    b = S3Backend(s3_url, backoff_base=0.01)
    b.put_bytes_if_absent("manifests/a.json", b"payload")
    s3_server.fail = lambda op, env: op == "GetObject"
    with caplog.at_level(logging.WARNING, logger="medcat_den.storage.s3"):
        assert b.get_bytes("manifests/a.json") == b"payload"
    assert s3_server.requests["failed GetObject"] == 1
    assert any("code SlowDown, HTTP 503" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]

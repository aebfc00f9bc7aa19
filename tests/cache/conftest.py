"""S3 fixtures for the cache tests (a real S3 API on loopback, see tests/_s3.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._s3 import S3Server, start_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    yield from start_server()


@pytest.fixture()
def s3_url(s3_server: S3Server) -> str:
    """``s3://<fresh bucket>/den`` on the test server."""
    return f"s3://{s3_server.new_bucket()}/den"

"""S3 fixtures for the cache tests (a real S3 API on loopback, see tests/helpers/s3.py)."""

from __future__ import annotations

from tests.helpers.s3 import s3_server, s3_url

__all__ = ["s3_server", "s3_url"]  # fixtures

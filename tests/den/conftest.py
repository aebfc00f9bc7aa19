"""S3 fixtures for the den tests (moto on loopback and s3rver: tests/helpers/s3.py, s3rver.py)."""

from __future__ import annotations

from tests.helpers.s3 import s3_server, s3_url
from tests.helpers.s3rver import s3rver

__all__ = ["s3_server", "s3_url", "s3rver"]  # fixtures

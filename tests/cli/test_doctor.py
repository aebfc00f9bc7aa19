"""``medcat-den doctor`` on moto (conforming) and s3rver (refused unless single-writer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medcat_den.cli.main import main
from tests.helpers.s3 import S3Server
from tests.helpers.s3rver import S3rver


def _doctor(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    rc = main(["doctor", "--json", *argv])
    return rc, json.loads(capsys.readouterr().out)


def test_doctor_passes_on_moto_and_flags_s3rver(
        s3_server: S3Server, s3_url: str, s3rver: S3rver, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MEDCAT_DEN_LOCAL_CACHE_PATH", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    rc, out = _doctor(["--den-type", "S3", "--den-path", s3_url], capsys)
    assert rc == 0 and out["ok"] is True and out["problems"] == []

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3rver.endpoint)
    url = f"s3://{s3rver.new_bucket()}/den"
    rc, out = _doctor(["--den-type", "S3", "--den-path", url], capsys)
    problems = out["problems"]
    assert rc == 1 and isinstance(problems, list)
    assert any("If-None-Match" in p for p in problems)
    monkeypatch.setenv("MEDCAT_DEN_S3_SINGLE_WRITER", "1")
    rc, out = _doctor(["--den-type", "S3", "--den-path", url], capsys)
    assert rc == 0 and out["single_writer"] is True and out["notes"]

"""Several named backends in one den YAML, and ``medcat-den sync`` between them."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from medcat_den.den import Den, get_default_den
from medcat_den.den.resolver import den_for_spec
from medcat_den.den.sync import sync_dens
from medcat_den.errors import ConfigError, PolicyError
from medcat_den.pack.layout import manifest_key
from medcat_den.storage.local import LocalFolderBackend
from tests.helpers.s3 import S3Server, start_server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    yield from start_server()


@pytest.fixture()
def den_yaml(isolated_env: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = isolated_env / "dens.yaml"
    path.write_text(yaml.safe_dump({
        "default": "laptop",
        "backends": {
            "laptop": {"type": "LOCAL_USER", "config": {"root": str(isolated_env / "laptop")}},
            "team": {"type": "s3", "config": {"url": f"s3://{s3_server.new_bucket()}/team"}},
        },
    }))
    monkeypatch.setenv("MEDCAT_DEN_CONFIG", str(path))
    monkeypatch.delenv("MEDCAT_DEN_TYPE")
    monkeypatch.delenv("MEDCAT_DEN_PATH")
    return path


def run_cli(*argv: str) -> int:
    from medcat_den.cli import sync_cmd

    parser = argparse.ArgumentParser()
    sync_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sync", *argv])
    result: int = args.func(args)
    return result


def state(den: Den) -> dict[str, bytes]:
    return {cid: den.backend.get_bytes(manifest_key(cid)) for cid in den._manifest_ids()}


def test_named_backends_and_sync_preserve_ids_and_lineage(
    den_yaml: Path, tiny_pack: Path, tiny_pack_b: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    laptop = get_default_den()  # the YAML's default
    assert isinstance(laptop.backend, LocalFolderBackend)
    team = den_for_spec("team")
    assert "S3Backend" in team.label and team.label.startswith("team")
    base = laptop.push_model(str(tiny_pack), "base", name="m")
    child = laptop.push_model(str(tiny_pack_b), "tuned", name="m", parents=[base.model_id])
    laptop.tag(base.model_id, "prod")

    # the remote refuses fine-tuned models by default: nothing at all is copied
    with pytest.raises(PolicyError):
        run_cli("laptop", "team")
    assert state(team) == {} and list(team.backend.list_keys("")) == []

    monkeypatch.setenv("MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED", "true")
    assert run_cli("laptop", "team") == 0
    assert "copied 2 model(s)" in capsys.readouterr().out
    team = den_for_spec("team")
    assert state(team) == state(laptop)  # same ids, manifests byte for byte
    assert [i.model_id for i in team.lineage("den://m")] == [child.model_id, base.model_id]
    assert team.resolve("den://m/1") == base.model_id
    assert team.resolve("den://m@prod") == base.model_id
    assert team.resolve("den://m") == child.model_id
    assert team.verify() == []
    assert sync_dens(laptop, team).models_copied == []  # idempotent

    # one model back into a fresh den: its parent comes first, nothing else
    fresh = Den(LocalFolderBackend(str(tmp_path / "fresh")))
    report = sync_dens(team, fresh, ["den://m/2"])
    assert report.models_copied == [base.model_id, child.model_id]
    assert [i.model_id for i in fresh.lineage(child.model_id)] == [child.model_id,
                                                                   base.model_id]
    assert "C0024117" in fresh.fetch_model("den://m/1").cdb.cui2info


def test_sync_renumbers_taken_versions(den_yaml: Path, tiny_pack: Path, tiny_pack_b: Path,
                                       tmp_path: Path) -> None:
    a = Den(LocalFolderBackend(str(tmp_path / "a")))
    b = Den(LocalFolderBackend(str(tmp_path / "b")))
    x = a.push_model(str(tiny_pack), name="m")
    y = b.push_model(str(tiny_pack_b), name="m")
    report = sync_dens(a, b)
    assert report.renumbered and b.resolve("den://m/1") == y.model_id
    assert b.resolve("den://m/2") == x.model_id


def test_unknown_den_spec(den_yaml: Path) -> None:
    with pytest.raises(ConfigError, match="laptop, team"):
        den_for_spec("nosuch")

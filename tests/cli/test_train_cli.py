"""`medcat-den train` / `jobs` / `jobs cancel` with a real den, real worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from medcat_den.cli.main import main
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS

TOY = "medcat_den.training.toy:toy_component_factory"


@pytest.fixture()
def setup(isolated_env: Path, tiny_pack: Path) -> tuple[Path, Path]:
    from medcat_den.den import get_default_den

    get_default_den().push_model(str(tiny_pack), name="tiny")
    train = isolated_env / "train.json"
    train.write_text(json.dumps(make_toy_export(TINY_CONCEPTS, n_docs=20, seed=1)))
    devel = isolated_env / "devel.json"
    devel.write_text(json.dumps(make_toy_export(TINY_CONCEPTS, n_docs=8, seed=2)))
    return train, devel


def _jobs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["jobs", "--json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_train_follow_then_jobs(setup, capsys) -> None:
    train, devel = setup
    code = main(["train", "den://tiny", "--train", str(train), "--devel", str(devel),
                 "--name", "tiny-cli", "--alias", "candidate", "--epochs", "2", "--lr", "0.05",
                 "--batch-size", "8", "--follow", "--component-factory", TOY])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "COMPLETED" in out and "pushed den://tiny-cli/1" in out and "f1=" in out
    jobs = _jobs(capsys)
    assert [(j["status"], j["result_ref"]) for j in jobs] == [("COMPLETED", "den://tiny-cli/1")]
    assert main(["jobs"]) == 0
    assert "den://tiny-cli/1" in capsys.readouterr().out

    assert main(["train", "den://tiny", "--train", str(train.with_name("missing.json")),
                 "--name", "x", "--follow"]) == 1
    assert "training data file not found" in capsys.readouterr().err
    assert main(["train", "den://tiny", "--train", str(train), "--name", "x", "--follow",
                 "--config", '{"epochs": 0}', "--component-factory", TOY]) == 1
    assert "epochs" in capsys.readouterr().err


def test_background_train_is_cancelled_from_another_command(setup, capsys) -> None:
    train, _ = setup
    code = main(["train", "den://tiny", "--train", str(train), "--name", "endless", "--json",
                 "--epochs", "100000", "--batch-size", "2", "--component-factory", TOY,
                 "--config", '{"eval_each_epoch": false, "checkpoint_each_epoch": false}'])
    assert code == 0
    job_id = json.loads(capsys.readouterr().out)["id"]
    deadline = time.monotonic() + 120
    while True:
        (job,) = _jobs(capsys)
        if job["status"] == "RUNNING" and int(str(job["step"])) > 0:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["id"] == job_id
    assert main(["jobs", "cancel", job_id.split(":")[1][:8], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "CANCELED"
    (job,) = _jobs(capsys)
    assert job["status"] == "CANCELED"
    assert main(["jobs", "cancel", "deadbeef"]) == 1
    assert "no job matches" in capsys.readouterr().err

"""``medcat-den linker build|train`` and ``medcat-den evaluate`` through the real CLI entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def test_build_train_evaluate(tmp_path: Path, tiny_bert_dir: Path, concepts_csv: Path,
                              toy_train: dict[str, Any], toy_test: dict[str, Any],
                              capsys: pytest.CaptureFixture[str]) -> None:
    from medcat_den.cli.main import main

    train = tmp_path / "train.json"
    train.write_text(json.dumps(toy_train))
    test = tmp_path / "test.json"
    test.write_text(json.dumps(toy_test))
    assert main(["linker", "build", "--concepts", str(concepts_csv), "--out",
                 str(tmp_path / "built"), "--trainable", "--model", str(tiny_bert_dir),
                 "--set", "context_window_size=6", "--name", "p0"]) == 0
    pack = tmp_path / "built" / "p0"
    assert (pack / "saved_components" / "core_linking" / "linker.json").exists()
    capsys.readouterr()
    assert main(["linker", "train", str(pack), "--train", str(train), "--devel", str(test),
                 "--out", str(tmp_path / "out"), "--epochs", "1", "--lr", "0.005",
                 "--name", "p1"]) == 0
    out = capsys.readouterr().out
    assert "devel: P" in out and "saved" in out
    assert main(["evaluate", str(tmp_path / "out" / "p1"), "--data", str(test), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "f1", "lenient_f1", "tp", "fp", "fn"} <= set(metrics)
    assert metrics["tp"] > 0
    # --set changes a linker setting for this evaluation only
    assert main(["evaluate", str(tmp_path / "out" / "p1"), "--data", str(test), "--json",
                 "--set", "use_rejection=false"]) == 0
    unfiltered = json.loads(capsys.readouterr().out)
    assert unfiltered["fp"] > metrics["fp"]
    assert main(["evaluate", str(tmp_path / "out" / "p1"), "--data", str(test), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == metrics
    assert main(["evaluate", str(tmp_path / "out" / "p1"), "--data", str(test),
                 "--set", "no_such_setting=1"]) == 1
    assert "no_such_setting" in capsys.readouterr().err


def test_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medcat_den.cli.main import main

    assert main(["linker", "build", "--concepts", str(tmp_path / "missing.csv"), "--out",
                 str(tmp_path / "o")]) == 1
    assert "missing.csv" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope"), "--data", str(tmp_path / "d.json")]) == 1
    assert "d.json" in capsys.readouterr().err

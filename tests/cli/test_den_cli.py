"""The ``medcat-den`` CLI end to end, in real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture()
def run(isolated_env: Path):  # type: ignore[no-untyped-def]
    env = dict(os.environ, TQDM_DISABLE="1")

    def _run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "medcat_den", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return _run


def test_cli_end_to_end(run, tiny_pack: Path, tiny_pack_b: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "the den is empty" in run("list").stdout
    pushed = json.loads(run("push", str(tiny_pack), "--name", "tiny", "--description", "first",
                            "--json").stdout)
    assert pushed["name"] == "tiny" and pushed["version"] == 1
    second = json.loads(run("push", str(tiny_pack_b), "--name", "tiny", "-d", "second",
                            "--alias", "staging", "--json").stdout)
    listing = json.loads(run("list", "--json").stdout)
    assert {m["model_id"] for m in listing} == {pushed["model_id"], second["model_id"]}
    assert "tiny/2" in run("list").stdout
    info = json.loads(run("info", "den://tiny@staging", "--json").stdout)
    assert info["model_id"] == second["model_id"] and "cdb/raw_dict.dat" in info["files"]
    run("tag", "den://tiny/1", "production")
    assert json.loads(run("info", "den://tiny@production", "--json").stdout)["version"] == 1
    lineage = json.loads(run("lineage", "den://tiny", "--json").stdout)
    assert lineage[0]["model_id"] == second["model_id"]
    out = tmp_path / "fetched"
    run("fetch", "den://tiny@production", "--out", str(out))
    assert (out / "cdb" / "raw_dict.dat").is_file()
    assert json.loads(run("verify", "--json").stdout) == {"ok": True, "problems": []}
    run("untag", "tiny", "production")
    run("delete", "den://tiny/1")
    freed = json.loads(run("gc", "--grace", "0", "--json").stdout)["freed_bytes"]
    assert freed > 0
    assert len(json.loads(run("list", "--json").stdout)) == 1


def test_cli_errors_are_clear(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run("info", "den://nope", ok=False)
    assert missing.returncode == 1
    assert "no model named 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    bad = run("delete", "../../etc", ok=False)
    assert bad.returncode == 1 and "invalid" in bad.stderr
    nothing = run(ok=False)
    assert nothing.returncode == 2


def column_starts(header: str) -> dict[str, int]:
    return {word: header.index(word) for word in header.split()}


def test_list_and_lineage_columns_line_up_with_long_names(
    isolated_env: Path, tiny_pack: Path, tiny_pack_b: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medcat_den.cli.main import main

    long_name = "a-rather-long-model-name-for-the-clinical-ner-of-2026"
    assert main(["push", str(tiny_pack), "--name", long_name, "--alias", "production-candidate",
                 "-d", "first"]) == 0
    assert main(["push", str(tiny_pack_b), "--name", "t", "-d", "second"]) == 0
    capsys.readouterr()
    assert main(["list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    starts = column_starts(header)
    assert len(rows) == 2
    by_name = {row[starts["NAME/VERSION"]:].split()[0]: row for row in rows}
    long_row, short_row = by_name[f"{long_name}/1"], by_name["t/1"]
    for row in (long_row, short_row):
        for column in ("NAME/VERSION", "ALIASES", "CREATED", "DESCRIPTION"):
            assert row[starts[column] - 2:starts[column]] == "  ", (column, row)  # a column edge
        assert row[starts["CREATED"]:].startswith("20")
        size_end = starts["SIZE"] + len("SIZE")
        assert row[size_end - 1] == "B" and row[size_end] == " "  # right-aligned under SIZE
    assert long_row[starts["ALIASES"]:].startswith("latest,production-candidate  ")
    assert long_row[starts["DESCRIPTION"]:] == "first"
    assert short_row[starts["DESCRIPTION"]:] == "second"

    assert main(["lineage", f"den://{long_name}"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    starts = column_starts(header)
    assert row[starts["PARENTS"]:].startswith("(root)")
    assert row[starts["DESCRIPTION"]:] == "first"

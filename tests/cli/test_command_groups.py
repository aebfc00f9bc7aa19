"""Wiring of the command groups: each one is there, and one that fails to import stops the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medcat_den.cli import main as cli_main
from medcat_den.errors import CommandGroupImportError


def test_every_group_is_wired() -> None:
    parser = cli_main.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, cli_main._SubCommands))
    assert {"list", "push", "cache", "sync", "linker", "evaluate", "serve", "train", "jobs",
            "run"} <= set(sub.choices)


def test_a_group_that_fails_to_import_is_named(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_cmd.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli_main, "COMMAND_GROUPS", (*cli_main.COMMAND_GROUPS, "broken_cmd"))
    with pytest.raises(CommandGroupImportError,
                       match=r"command group broken_cmd failed to import .*no_such_dependency_xyz"):
        cli_main.main(["list"])


def test_the_failure_is_loud_in_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "broken_cmd.py").write_text("raise ImportError('cannot import name X from y')\n")
    code = ("import sys; from medcat_den.cli import main as m; "
            "m.COMMAND_GROUPS += ('broken_cmd',); sys.exit(m.main(['list']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "command group broken_cmd failed to import (ImportError: cannot import name X" in done.stderr
    assert 'broken_cmd.py", line 1' in done.stderr  # the traceback points at the cause

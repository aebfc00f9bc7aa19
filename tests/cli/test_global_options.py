"""Every global option works before and after the sub-command (after wins), at every depth.

In-process ``main()`` against real den folders; the parser itself for the depth checks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from medcat_den.cli import main as cli_main
from medcat_den.den import get_default_den


@pytest.fixture()
def dens(isolated_env: Path) -> dict[str, Path]:
    """``env``: the den $MEDCAT_DEN_PATH names; ``x``, ``a``, ``b``: other den folders."""
    return {"env": isolated_env / "den", "x": isolated_env / "den-x",
            "a": isolated_env / "den-a", "b": isolated_env / "den-b"}


@pytest.fixture()
def den_config(isolated_env: Path, dens: dict[str, Path]) -> Path:
    cfg = isolated_env / "dens.yaml"
    cfg.write_text("default: a\nbackends:\n"
                   f"  a: {{type: LOCAL_USER, config: {{root: {dens['a']}}}}}\n"
                   f"  b: {{type: LOCAL_USER, config: {{root: {dens['b']}}}}}\n")
    return cfg


@pytest.fixture()
def root_level() -> Iterator[None]:
    """main() sets the root logger's level from -v: put it back."""
    saved = logging.getLogger().level
    yield
    logging.getLogger().setLevel(saved)


def names_in(folder: Path) -> list[str]:
    return [m.name or "" for m in get_default_den(path=str(folder)).list_available_models()]


def place(option: list[str], command: list[str], where: str) -> list[str]:
    """``option`` before the sub-command or after it."""
    return [*option, *command] if where == "before" else [*command, *option]


POSITIONS = ["before", "after"]


@pytest.mark.parametrize("where", POSITIONS)
def test_den_path(where: str, dens: dict[str, Path], tiny_pack: Path) -> None:
    argv = place(["--den-path", str(dens["x"])], ["push", str(tiny_pack), "--name", "tiny"], where)
    assert cli_main.main(argv) == 0
    assert names_in(dens["x"]) == ["tiny"]
    assert names_in(dens["env"]) == []  # not the den the environment names


@pytest.mark.parametrize("where", POSITIONS)
def test_json(where: str, dens: dict[str, Path], tiny_pack: Path,
              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["push", str(tiny_pack), "--name", "tiny"]) == 0
    assert capsys.readouterr().out.startswith("pushed den://tiny/1")
    assert cli_main.main(place(["--json"], ["list"], where)) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)] == ["tiny"]


@pytest.mark.parametrize("where", POSITIONS)
def test_verbose(where: str, dens: dict[str, Path], tiny_pack: Path, root_level: None,
                 caplog: pytest.LogCaptureFixture) -> None:
    assert cli_main.main(["push", str(tiny_pack), "--name", "quiet"]) == 0
    assert not [r for r in caplog.records if r.levelno == logging.INFO]
    assert cli_main.main(place(["-v"], ["push", str(tiny_pack), "--name", "loud"], where)) == 0
    assert any(r.levelno == logging.INFO and "push" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("where", POSITIONS)
def test_den_type(where: str, dens: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["list"]) == 0
    assert cli_main.main(place(["--den-type", "NOPE"], ["list"], where)) == 1
    assert "unknown den type 'NOPE'" in capsys.readouterr().err
    assert cli_main.main(place(["--den-type", "local_user", "--den-path", str(dens["x"])],
                               ["list"], where)) == 0


@pytest.mark.parametrize("where", POSITIONS)
def test_den_config(where: str, den_config: Path, dens: dict[str, Path], tiny_pack: Path) -> None:
    argv = place(["--den-config", str(den_config)], ["push", str(tiny_pack), "--name", "t"], where)
    assert cli_main.main(argv) == 0
    assert names_in(dens["a"]) == ["t"] and names_in(dens["env"]) == []


@pytest.mark.parametrize("where", POSITIONS)
def test_backend(where: str, den_config: Path, dens: dict[str, Path], tiny_pack: Path) -> None:
    argv = ["--den-config", str(den_config),
            *place(["--backend", "b"], ["push", str(tiny_pack), "--name", "t"], where)]
    assert cli_main.main(argv) == 0
    assert names_in(dens["b"]) == ["t"] and names_in(dens["a"]) == []


def test_after_the_sub_command_wins(dens: dict[str, Path], tiny_pack: Path) -> None:
    argv = ["--den-path", str(dens["a"]), "push", str(tiny_pack), "--name", "t",
            "--den-path", str(dens["b"])]
    assert cli_main.main(argv) == 0
    assert names_in(dens["b"]) == ["t"] and names_in(dens["a"]) == []


@pytest.mark.parametrize("command", [["list"], ["cache", "ls"], ["jobs", "cancel", "ID"],
                                     ["linker", "build", "--concepts", "c", "--out", "o"]],
                         ids=lambda c: " ".join(c[:2]))
def test_every_depth_keeps_what_came_before(command: list[str]) -> None:
    parser = cli_main.build_parser()
    values = {"--den-type": "S3", "--den-path": "p", "--den-config": "c.yaml", "--backend": "b"}
    given = [w for opt, value in values.items() for w in (opt, value)]
    for argv in ([*given, "--json", "-vv", *command], [*command, *given, "--json", "-vv"]):
        args = parser.parse_args(argv)
        assert (args.den_type, args.den_path, args.den_config, args.backend) == ("S3", "p", "c.yaml",
                                                                                 "b"), argv
        assert args.json is True and args.verbose == 2, argv
    args = parser.parse_args(command)
    assert (args.json, args.verbose, args.den_type, args.den_path, args.den_config,
            args.backend) == (False, 0, None, None, None, None)
    if len(command) > 1:  # between a group and its action
        args = parser.parse_args([command[0], "--json", "--den-path", "mid", *command[1:]])
        assert args.json is True and args.den_path == "mid"

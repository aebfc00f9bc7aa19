"""Choosing the den: explicit arguments > environment > defaults."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medcat_den.den import get_default_den
from medcat_den.errors import ConfigError
from medcat_den.storage.local import LocalFolderBackend


def test_env_type_is_case_insensitive_and_path_is_used(isolated_env: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCAT_DEN_TYPE", "local_user")
    den = get_default_den()
    assert isinstance(den.backend, LocalFolderBackend)
    assert den.backend.root == str(isolated_env / "den")


def test_explicit_arguments_beat_environment(isolated_env: Path, tmp_path: Path) -> None:
    den = get_default_den(path=str(tmp_path / "explicit"))
    assert den.backend.root == str(tmp_path / "explicit")  # type: ignore[attr-defined]


def test_unknown_type_lists_valid_ones(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCAT_DEN_TYPE", "FLOPPY_DISK")
    with pytest.raises(ConfigError) as err:
        get_default_den()
    assert "FLOPPY_DISK" in str(err.value)
    assert "LOCAL_USER" in str(err.value) and "LOCAL_MACHINE" in str(err.value)


def test_machine_den_is_group_writable(isolated_env: Path, tmp_path: Path) -> None:
    den = get_default_den(den_type="LOCAL_MACHINE", path=str(tmp_path / "machine"))
    mode = os.stat(tmp_path / "machine" / "objects").st_mode
    assert mode & stat.S_IWGRP and mode & stat.S_ISGID and not mode & stat.S_IWOTH
    assert den.backend.shared  # type: ignore[attr-defined]


def test_machine_default_is_not_a_temp_folder() -> None:
    from medcat_den.den.resolver import default_local_root

    root = default_local_root("LOCAL_MACHINE")
    assert not root.startswith(("/tmp", "/var/tmp"))


def test_den_config_yaml_with_named_backends(isolated_env: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "den.yaml"
    cfg.write_text(
        "default: team\n"
        "backends:\n"
        f"  mine: {{type: LOCAL_USER, config: {{root: {tmp_path / 'mine'}}}}}\n"
        f"  team: {{type: local_machine, config: {{root: {tmp_path / 'team'}}}}}\n"
    )
    monkeypatch.setenv("MEDCAT_DEN_CONFIG", str(cfg))
    monkeypatch.delenv("MEDCAT_DEN_PATH")
    monkeypatch.delenv("MEDCAT_DEN_TYPE")
    assert get_default_den().backend.root == str(tmp_path / "team")  # type: ignore[attr-defined]
    mine = get_default_den(config_file=str(cfg), backend_name="mine")
    assert mine.backend.root == str(tmp_path / "mine")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="valid: mine, team"):
        get_default_den(config_file=str(cfg), backend_name="nope")


@pytest.mark.parametrize("text,match", [
    ("backends: {}\n", "non-empty"),
    ("backends: {a: {config: {}}}\n", "needs a 'type'"),
    ("backends: [\n", "not valid YAML"),
    ("backends: {a: {type: LOCAL_USER, config: {colour: red}}}\n", "unknown config keys"),
])
def test_bad_den_config_is_named(tmp_path: Path, text: str, match: str) -> None:
    cfg = tmp_path / "den.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=match):
        get_default_den(config_file=str(cfg))

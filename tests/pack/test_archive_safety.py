"""Malicious archives, folders and names are refused; nothing outside the den is touched."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from medcat_den.den import Den
from medcat_den.errors import InvalidNameError, InvalidPackError, UnsafeArchiveError
from medcat_den.storage.local import LocalFolderBackend


@pytest.fixture()
def sentinel(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "sentinel.txt"
    path.parent.mkdir()
    path.write_text("do not touch")
    return path


@pytest.fixture()
def den(den_root: Path) -> Den:
    return Den(LocalFolderBackend(str(den_root)))


def _zip_of(pack: Path, out: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for p in pack.rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(pack).as_posix())
        for info, data in extra:
            zf.writestr(info, data)
    return out


def _assert_untouched(sentinel: Path, den_root: Path) -> None:
    assert sentinel.read_text() == "do not touch"
    assert sorted(p.name for p in sentinel.parent.iterdir()) == ["sentinel.txt"]
    assert not list((den_root / "objects").rglob("*.json"))


@pytest.mark.parametrize(
    "entry",
    ["../outside/sentinel.txt", "../../evil.txt", "/tmp/abs-evil.txt", "cdb/../../evil.txt",
     "C:/evil.txt", "cdb\\..\\..\\evil.txt"],
)
def test_zip_entries_escaping_the_target_are_rejected(
    den: Den, den_root: Path, tiny_pack: Path, tmp_path: Path, sentinel: Path, entry: str
) -> None:
    archive = _zip_of(tiny_pack, tmp_path / "evil.zip", [(entry, b"pwned")])
    with pytest.raises(UnsafeArchiveError):
        den.push_model(str(archive), "evil")
    _assert_untouched(sentinel, den_root)
    assert not Path("/tmp/abs-evil.txt").exists()


def test_zip_symlink_entry_is_rejected(den: Den, den_root: Path, tiny_pack: Path,
                                       tmp_path: Path, sentinel: Path) -> None:
    link = zipfile.ZipInfo("cdb/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip_of(tiny_pack, tmp_path / "link.zip", [(link, str(sentinel).encode())])
    with pytest.raises(UnsafeArchiveError, match="link"):
        den.push_model(str(archive), "evil")
    _assert_untouched(sentinel, den_root)


def test_zip_bomb_is_rejected(den: Den, den_root: Path, tiny_pack: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch, sentinel: Path) -> None:
    monkeypatch.setenv("MEDCAT_DEN_MAX_PACK_BYTES", str(2 * 1024 * 1024))
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in tiny_pack.rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(tiny_pack).as_posix())
        zf.writestr("cdb/padding.bin", b"\0" * (8 * 1024 * 1024))
    assert archive.stat().st_size < 1024 * 1024
    with pytest.raises(UnsafeArchiveError, match="limit"):
        den.push_model(str(archive), "bomb")
    _assert_untouched(sentinel, den_root)


def test_zip_with_lying_sizes_is_stopped_while_extracting(den: Den, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCAT_DEN_MAX_PACK_BYTES", str(1024 * 1024))
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bin", b"\0" * (4 * 1024 * 1024))
    # rewrite the declared uncompressed size (central directory) to a small number
    data = bytearray(archive.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises((UnsafeArchiveError, InvalidPackError), match="limit|corrupt"):
        den.push_model(str(archive), "liar")
    assert den.list_available_models() == []


def test_folder_with_symlink_is_rejected(den: Den, den_root: Path, tiny_pack: Path,
                                         tmp_path: Path, sentinel: Path) -> None:
    pack = tmp_path / "linked"
    shutil.copytree(tiny_pack, pack)
    os.symlink(sentinel, pack / "cdb" / "extra.dat")
    with pytest.raises(UnsafeArchiveError, match="link"):
        den.push_model(str(pack), "evil")
    _assert_untouched(sentinel, den_root)


@pytest.mark.parametrize("bad", ["../../x", "..", "a/../../b", "/etc/passwd", "a b", "", "x" * 101,
                                 "den://../../x", "den://ok@../x", "den://ok/../../x", "~root"])
def test_traversal_names_are_rejected_everywhere(den: Den, den_root: Path, tiny_pack: Path,
                                                 sentinel: Path, bad: str) -> None:
    den.push_model(str(tiny_pack), "ok", name="ok")
    with pytest.raises(InvalidNameError):
        den.delete(bad)
    with pytest.raises(InvalidNameError):
        den.fetch_model(bad)
    with pytest.raises(InvalidNameError):
        den.tag("den://ok", bad if not bad.startswith("den://") else "../x")
    if not bad.startswith("den://"):
        with pytest.raises(InvalidNameError):
            den.push_model(str(tiny_pack), "x", name=bad)
    assert sentinel.read_text() == "do not touch"
    assert den.resolve("den://ok")

"""Catalog objects that read torn are re-read (bounded) before anything is called corrupt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medcat_den.den import Den
from medcat_den.den.catalog import Entry
from medcat_den.den.policies import ENV_LOCAL_FINE_TUNE, RemotePolicy
from medcat_den.errors import ConcurrentUpdateError, IntegrityError, PolicyError
from medcat_den.pack import layout
from medcat_den.storage.local import LocalFolderBackend


class TornReads(LocalFolderBackend):
    """A store that hands out a truncated copy of catalog objects and refs the first N reads."""

    def __init__(self, root: str, torn: int) -> None:
        super().__init__(root)
        self.torn = torn
        self.seen: dict[str, int] = {}

    def _tear(self, key: str, data: bytes) -> bytes:
        n = self.seen[key] = self.seen.get(key, 0) + 1
        return data[: len(data) // 2] if n <= self.torn else data

    def get_bytes(self, key: str) -> bytes:
        data = super().get_bytes(key)
        return self._tear(key, data) if key.startswith("catalog/") else data

    def read_ref(self, key: str) -> tuple[bytes, str] | None:
        got = super().read_ref(key)
        return None if got is None else (self._tear(key, got[0]), got[1])


def test_a_torn_catalog_entry_is_re_read(tmp_path: Path, tiny_pack: Path) -> None:
    root = str(tmp_path / "den")
    info = Den(LocalFolderBackend(root)).push_model(str(tiny_pack), name="tiny")
    assert Den(TornReads(root, torn=2)).resolve("den://tiny") == info.model_id
    with pytest.raises(IntegrityError, match="not valid after 4 reads"):
        Den(TornReads(root, torn=10)).resolve("den://tiny")


def test_a_torn_legacy_name_ref_is_re_read(tmp_path: Path, tiny_pack: Path) -> None:
    root = str(tmp_path / "den")
    info = Den(LocalFolderBackend(root)).push_model(str(tiny_pack), name="tiny")
    # make it an old-layout den: drop the catalog, write the name ref the old way
    for sub in ("log", "checkpoints"):
        for f in (Path(root) / "objects" / "catalog" / sub).glob("*"):
            f.unlink()
    backend = LocalFolderBackend(root)
    record = {"versions": {"1": info.model_id}, "aliases": {"latest": info.model_id}}
    assert backend.write_ref(layout.legacy_name_key("tiny"), json.dumps(record).encode(), None)
    assert Den(TornReads(root, torn=2)).resolve("den://tiny/1") == info.model_id


def test_remote_policy_reads_the_environment_at_call_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RemotePolicy()
    monkeypatch.delenv(ENV_LOCAL_FINE_TUNE, raising=False)
    with pytest.raises(PolicyError):
        policy.check_fine_tune("team den", "a" * 64)
    monkeypatch.setenv(ENV_LOCAL_FINE_TUNE, "true")
    policy.check_fine_tune("team den", "a" * 64)
    assert RemotePolicy(allow_local_fine_tune=False).allow_local_fine_tune is False


class OverwrittenCatalog(LocalFolderBackend):
    """A store ignoring conditional create: another writer's entry lands on ours at once."""

    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        if not key.startswith(layout.CATALOG_LOG):
            return super().put_bytes_if_absent(key, data)
        self.delete(key)
        super().put_bytes_if_absent(key, data)
        self.delete(key)  # the other writer's blind PUT of the same sequence number
        return super().put_bytes_if_absent(key, Entry(op="untag", name="x", alias="y").to_bytes())


def test_a_push_whose_catalog_entry_is_overwritten_raises(tmp_path: Path,
                                                          tiny_pack: Path) -> None:
    den = Den(OverwrittenCatalog(str(tmp_path / "den")))
    with pytest.raises(ConcurrentUpdateError, match="overwritten by another writer"):
        den.push_model(str(tiny_pack), name="tiny")

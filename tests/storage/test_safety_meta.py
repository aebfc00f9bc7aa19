"""Each safety mechanism, switched off, makes the test that guards it fail.

Every guard below runs twice: with the mechanism on, the guarding test's check
passes; with it switched off (monkeypatch), the same check fails. A guard whose
check still passes with its mechanism off protects nothing.

The switches are all in the SWITCHES section, each naming the one thing it
patches; after a refactor, repoint them there. They patch behaviour at the
mechanism itself (the HTTP precondition headers S3 receives, the compare in a
ref write, the local publish-if-absent link, the manifest's id check, the blob hash
check before loading, the archive / folder path checks, gc's grace period), not the
tests.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from medcat_den.den import Den
from medcat_den.storage.local import LocalFolderBackend
from tests.den import test_crash_points as crash_tests
from tests.helpers.s3 import S3Server
from tests.pack import test_archive_safety as archive_tests
from tests.pack import test_integrity as integrity_tests
from tests.storage import test_local as local_tests
from tests.storage import test_s3 as s3_tests

# =============================================================== SWITCHES


def _patch_everywhere(mp: pytest.MonkeyPatch, module: str, name: str, replacement: Any) -> None:
    """Replace ``module.name`` and every ``from module import name`` copy of it in the den,
    store and cache packages (wherever a refactor moves the caller)."""
    import importlib
    import pkgutil
    import sys

    original = getattr(importlib.import_module(module), name)
    for package in ("medcat_den.storage", "medcat_den.pack", "medcat_den.cache", "medcat_den.den"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__, package + "."):
            importlib.import_module(info.name)
    patched = 0
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("medcat_den") and getattr(mod, name, None) is original:
            mp.setattr(mod, name, replacement)
            patched += 1
    assert patched >= 2, f"{module}.{name} is used nowhere: repoint this switch"


def _strip_s3_params(monkeypatch: pytest.MonkeyPatch, operation: str, params: tuple[str, ...],
                     key_part: str) -> None:
    """Drop request parameters (precondition headers) before botocore sends them.

    Only on keys containing ``key_part``: the blobs and refs the guards race, not the
    scratch key on which the backend probes the server's guarantees before its first write
    (that probe would refuse the den, which is a second mechanism, not the one switched off).
    """
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == operation and key_part in str(api_params.get("Key", "")):
            api_params = {k: v for k, v in api_params.items() if k not in params}
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)


def s3_create_put_off(mp: pytest.MonkeyPatch) -> None:
    """S3 single-PUT conditional create: ``If-None-Match: *`` on object PUTs."""
    _strip_s3_params(mp, "PutObject", ("IfNoneMatch",), "/objects/blobs/")


def s3_create_multipart_off(mp: pytest.MonkeyPatch) -> None:
    """S3 multipart conditional create: ``If-None-Match: *`` on the completion."""
    _strip_s3_params(mp, "CompleteMultipartUpload", ("IfNoneMatch",), "/objects/blobs/")


def s3_ref_cas_off(mp: pytest.MonkeyPatch) -> None:
    """S3 ref compare-and-swap: ``If-Match`` / ``If-None-Match`` on ref PUTs."""
    _strip_s3_params(mp, "PutObject", ("IfMatch", "IfNoneMatch"), "/refs/")


def local_ref_cas_off(mp: pytest.MonkeyPatch) -> None:
    """Local ref compare-and-swap: a ref write succeeds whatever token it expected."""
    original = LocalFolderBackend.write_ref

    def blind(self: LocalFolderBackend, key: str, data: bytes | None,
              expected_token: str | None) -> bool:
        for _ in range(1000):
            current = self.read_ref(key)
            if original(self, key, data, current[1] if current else None):
                return True
        raise AssertionError("unreachable: nobody else writes for that long")

    mp.setattr(LocalFolderBackend, "write_ref", blind)


def local_create_off(mp: pytest.MonkeyPatch) -> None:
    """Local conditional create: objects are published with ``os.link``, which fails if the
    target exists (``fsutil.publish_if_absent``); blind, it overwrites and reports success."""
    from medcat_den.storage import fsutil

    def blind(tmp_path: str, final_path: str) -> bool:
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        os.replace(tmp_path, final_path)
        return True

    mp.setattr(fsutil, "publish_if_absent", blind)


def manifest_id_check_off(mp: pytest.MonkeyPatch) -> None:
    """A fetched manifest is checked against its content id (``PackManifest.from_bytes``)."""
    from medcat_den.pack.manifest import PackManifest

    original = PackManifest.from_bytes.__func__  # type: ignore[attr-defined]

    def unchecked(cls: type[PackManifest], data: bytes,
                  expected_id: str | None = None) -> PackManifest:
        manifest: PackManifest = original(cls, data, None)
        return manifest

    mp.setattr(PackManifest, "from_bytes", classmethod(unchecked))


def blob_hash_check_off(mp: pytest.MonkeyPatch) -> None:
    """Blobs are re-hashed before a pack is loaded (``store.integrity.verify_files``)."""
    _patch_everywhere(mp, "medcat_den.pack.integrity", "verify_files", lambda *a, **kw: None)


def zip_path_check_off(mp: pytest.MonkeyPatch) -> None:
    """Archive entries are checked before extraction (``store.archive.extract_zip_safely``)."""
    from medcat_den.pack.archive import _pack_root

    def naive(zip_path: str, dest: str, max_bytes: int | None = None) -> str:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                target = os.path.join(dest, info.filename)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as out:
                    out.write(zf.read(info))
        return _pack_root(dest)

    _patch_everywhere(mp, "medcat_den.pack.archive", "extract_zip_safely", naive)


def folder_link_check_off(mp: pytest.MonkeyPatch) -> None:
    """Pack folders are scanned without following links (``store.archive.scan_pack_folder``)."""
    def naive(folder: str, max_bytes: int | None = None) -> dict[str, int]:
        out = {}
        for dirpath, _dirs, names in os.walk(folder):
            for n in names:
                full = os.path.join(dirpath, n)
                out[os.path.relpath(full, folder).replace(os.sep, "/")] = os.path.getsize(full)
        return out

    _patch_everywhere(mp, "medcat_den.pack.archive", "scan_pack_folder", naive)


def gc_grace_off(mp: pytest.MonkeyPatch) -> None:
    """``Den.gc`` keeps unreferenced blobs younger than its grace period."""
    original = Den.gc

    def graceless(self: Den, grace_seconds: float = 3600.0, dry_run: bool = False) -> int:
        return original(self, grace_seconds=0.0, dry_run=dry_run)

    mp.setattr(Den, "gc", graceless)


# ============================================================ the guards


@dataclass
class Ctx:
    tmp_path: Path
    tiny_pack: Path
    tiny_pack_b: Path
    s3_server: S3Server
    pickle_ran: bool = False

    def fresh(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=name + "-", dir=self.tmp_path))
        return path

    def s3_url(self) -> str:
        return f"s3://{self.s3_server.new_bucket()}/den"


def guard_s3_create_put(c: Ctx) -> None:
    s3_tests.test_racing_single_put_creates_have_exactly_one_winner(
        c.s3_url(), c.s3_server, c.fresh("put"))


def guard_s3_create_multipart(c: Ctx) -> None:
    s3_tests.test_racing_multipart_creates_have_exactly_one_winner(
        c.s3_url(), c.s3_server, c.fresh("multipart"))


def guard_s3_ref_cas(c: Ctx) -> None:
    s3_tests.test_racing_ref_updates_lose_nothing(c.s3_url())


def guard_local_ref_cas(c: Ctx) -> None:
    s3_tests.race_ref_cas(LocalFolderBackend(str(c.fresh("den"))), "names/list.json", 8)


def guard_local_create(c: Ctx) -> None:
    local_tests.race_local_create(c.fresh("den"), c.fresh("src"), 8)


def guard_manifest_id(c: Ctx) -> None:
    integrity_tests.test_edited_manifest_is_refused(c.fresh("den"), c.tiny_pack, c.tiny_pack_b)


def guard_blob_hash(c: Ctx) -> None:
    out = c.fresh("out")
    try:
        integrity_tests.test_malicious_pickle_swapped_in_is_never_unpickled(
            c.fresh("den"), c.tiny_pack, out)
    finally:
        # the test's own sentinel: written only if the swapped-in pickle was loaded
        c.pickle_ran = (out / "pwned").exists()


def _sentinel(c: Ctx) -> tuple[Path, Path]:
    base = c.fresh("arch")
    sentinel = base / "outside" / "sentinel.txt"
    sentinel.parent.mkdir()
    sentinel.write_text("do not touch")
    den_root = base / "den"
    den_root.mkdir()
    return base, sentinel


def guard_zip_traversal(c: Ctx) -> None:
    base, sentinel = _sentinel(c)
    den_root = base / "den"
    # extraction happens in a temp folder beside "outside", so an escaping entry lands on the
    # sentinel rather than anywhere else on the machine
    scratch = base / "scratch"
    scratch.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        archive_tests.test_zip_entries_escaping_the_target_are_rejected(
            Den(LocalFolderBackend(str(den_root))), den_root, c.tiny_pack, base, sentinel,
            "../outside/sentinel.txt")
    finally:
        tempfile.tempdir = saved


def guard_folder_links(c: Ctx) -> None:
    base, sentinel = _sentinel(c)
    den_root = base / "den"
    archive_tests.test_folder_with_symlink_is_rejected(
        Den(LocalFolderBackend(str(den_root))), den_root, c.tiny_pack, base, sentinel)


def guard_gc_grace(c: Ctx) -> None:
    root = str(c.fresh("den"))
    crash_tests.gc_during_push_keeps_its_blobs(lambda: Den(LocalFolderBackend(root)), c.tiny_pack)


Switch = Callable[[pytest.MonkeyPatch], None]

#: mechanism -> (switch it off, the guarding check, how that check fails without it)
GUARDS: dict[str, tuple[Switch, Callable[[Ctx], None], str]] = {
    "s3-conditional-create-single-put":
        (s3_create_put_off, guard_s3_create_put, r"8 writers won the create"),
    "s3-conditional-create-multipart":
        (s3_create_multipart_off, guard_s3_create_multipart, r"6 writers won the create"),
    "s3-ref-compare-and-swap": (s3_ref_cas_off, guard_s3_ref_cas, r"assert \[\d\] == \[0, 1,"),
    "local-ref-compare-and-swap":
        (local_ref_cas_off, guard_local_ref_cas, r"assert \[\d\] == \[0, 1,"),
    "local-conditional-create":
        (local_create_off, guard_local_create, r"8 writers won the create"),
    "manifest-content-id-check":
        (manifest_id_check_off, guard_manifest_id, r"DID NOT RAISE.*IntegrityError"),
    # the swapped-in pickle is loaded (its sentinel is checked below), then MedCAT chokes
    "blob-hash-check-before-unpickling": (blob_hash_check_off, guard_blob_hash, r""),
    "zip-entry-traversal-check":
        (zip_path_check_off, guard_zip_traversal, r"DID NOT RAISE.*UnsafeArchiveError"),
    "pack-folder-link-check":
        (folder_link_check_off, guard_folder_links, r"DID NOT RAISE.*UnsafeArchiveError"),
    "gc-grace-period": (gc_grace_off, guard_gc_grace, r"== \{0\}"),
}


@pytest.fixture()
def ctx(tmp_path: Path, tiny_pack: Path, tiny_pack_b: Path, s3_server: S3Server) -> Iterator[Ctx]:
    yield Ctx(tmp_path, tiny_pack, tiny_pack_b, s3_server)


@pytest.mark.parametrize("mechanism", sorted(GUARDS))
@pytest.mark.parametrize("state", ["on", "off"])
def test_guard_fails_exactly_when_its_mechanism_is_off(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch, mechanism: str, state: str
) -> None:
    switch_off, guard, failure = GUARDS[mechanism]
    if state == "on":
        guard(ctx)
        return
    switch_off(monkeypatch)
    # pytest.raises' "DID NOT RAISE" is pytest.fail.Exception, a BaseException
    with pytest.raises((AssertionError, pytest.fail.Exception, Exception)) as failed:
        guard(ctx)
    if mechanism == "blob-hash-check-before-unpickling":
        assert ctx.pickle_ran  # the check was what protected
    else:
        assert isinstance(failed.value, (AssertionError, pytest.fail.Exception)), failed.value
        assert re.search(failure, str(failed.value), re.S), str(failed.value)[:500]

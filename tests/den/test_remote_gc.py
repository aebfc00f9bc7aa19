"""gc on S3 takes ages and sizes from the store's listing: a push in flight survives it."""

from __future__ import annotations

import threading
from pathlib import Path

from medcat_den.den import Den
from medcat_den.den.model_info import ModelInfo
from medcat_den.pack import layout
from medcat_den.storage.local import LocalFolderBackend
from medcat_den.storage.s3 import S3Backend
from tests.helpers.packs import variant
from tests.helpers.s3 import S3Server


def _blob_sizes(backend: S3Backend) -> dict[str, int]:
    return {o.key: o.size or 0 for o in backend.list_entries(layout.BLOBS)}


def test_gc_during_a_slow_push_deletes_none_of_its_blobs(
        s3_server: S3Server, s3_url: str, tiny_pack: Path, tmp_path: Path) -> None:
    pusher = Den(S3Backend(s3_url))
    pushed: list[ModelInfo] = []
    s3_server.held.clear()
    s3_server.release.clear()
    # the push stalls after its blobs are uploaded, before its manifest is written
    s3_server.hold = lambda op, env: (op == "PutObject"
                                      and "/objects/manifests/" in env.get("PATH_INFO", ""))
    thread = threading.Thread(target=lambda: pushed.append(
        pusher.push_model(str(variant(tiny_pack, tmp_path, 0)), name="slow")))
    thread.start()
    try:
        assert s3_server.held.wait(120), "the push never reached its manifest"
        store = S3Backend(s3_url)
        before = _blob_sizes(store)
        assert before, "the push should have uploaded its blobs"
        collector = Den(S3Backend(s3_url))
        assert collector.gc(grace_seconds=3600) == 0
        assert _blob_sizes(store) == before
    finally:
        s3_server.hold = None
        s3_server.release.set()
        thread.join(120)
    assert pushed and Den(S3Backend(s3_url)).verify(pushed[0].model_id) == []


def test_gc_frees_exactly_the_unused_bytes_it_reports(
        s3_server: S3Server, s3_url: str, tiny_pack: Path, tmp_path: Path) -> None:
    den = Den(S3Backend(s3_url))
    keep = den.push_model(str(variant(tiny_pack, tmp_path, 1)), name="gc")
    drop = den.push_model(str(variant(tiny_pack, tmp_path, 2)), name="gc")
    kept_blobs = {e.blob for e in den.manifest(keep.model_id).files.values()}
    only_drop = {e.blob: e.size for e in den.manifest(drop.model_id).files.values()
                 if e.blob not in kept_blobs}
    assert only_drop  # the variant file at least
    den.delete(drop.model_id)
    assert den.gc(grace_seconds=3600) == 0  # young: kept
    before = _blob_sizes(S3Backend(s3_url))
    assert den.gc(grace_seconds=0, dry_run=True) == sum(only_drop.values())
    assert _blob_sizes(S3Backend(s3_url)) == before
    assert den.gc(grace_seconds=0) == sum(only_drop.values())
    left = {layout.blob_sha(k) for k in _blob_sizes(S3Backend(s3_url))}
    assert left == kept_blobs
    assert den.verify(keep.model_id) == []


def test_gc_counts_and_removes_stale_scratch_folders(tmp_path: Path) -> None:
    backend = LocalFolderBackend(str(tmp_path / "den"))
    assert backend.tmp_dir is not None
    stale = Path(backend.tmp_dir) / "medcat-den-fetch-dead.trash"
    (stale / "pack").mkdir(parents=True)
    (stale / "pack" / "weights.bin").write_bytes(b"x" * 1000)
    den = Den(backend)
    assert den.gc(grace_seconds=0, dry_run=True) == 1000 and stale.exists()
    assert den.gc(grace_seconds=0) == 1000 and not stale.exists()

"""Housekeeping: delete, lineage, verify and garbage collection of a den.

Config: none (functions over a :class:`~medcat_den.den.den.Den`).

``gc`` takes every object's age and size from the store's own listing
(``StoreBackend.list_entries``: S3's ``LastModified`` / ``Size``, a file's
mtime / size), so the grace period protects a push in flight on every backend:
its blobs are young and not yet named by a manifest. Objects whose age the
store cannot tell are kept. Catalog entries and checkpoints covered by a newer
checkpoint older than the grace period go too, and so do scratch folders in
``backend.tmp_dir`` left by killed processes. The bytes returned are those the
store reported for what was (or, with ``dry_run``, would be) deleted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING

from medcat_den.den.catalog import CatalogState, Entry
from medcat_den.den.model_info import ModelInfo
from medcat_den.errors import IntegrityError, KeyNotFoundError, ModelInUseError, ModelNotFoundError
from medcat_den.pack import layout
from medcat_den.pack.integrity import verify_files

if TYPE_CHECKING:
    from medcat_den.den.den import Den

logger = logging.getLogger(__name__)


def children_of(den: Den, cid: str) -> list[str]:
    return den.catalog.view(lambda st: sorted(
        other for other, m in st.models.items() if other != cid and cid in m.parents))


def delete(den: Den, cid: str, force: bool) -> str:
    manifest = den.load_manifest(cid)
    children = children_of(den, cid)
    if children and not force:
        raise ModelInUseError(
            f"model {cid} is a parent of {len(children)} model(s) "
            f"({', '.join(c[:12] for c in children)}); use force=True to delete it anyway")
    den.catalog.append(Entry(op="delete", cid=cid), lambda _st, _e: None)
    index_key = layout.substance_key(manifest.substance)
    try:
        if den.backend.get_bytes(index_key).decode() == cid:
            den.backend.delete(index_key)
    except KeyNotFoundError:
        pass
    den.backend.delete(layout.manifest_key(cid))
    logger.info("deleted model %s", cid)
    return cid


def lineage(den: Den, start: str) -> list[ModelInfo]:
    """The model and its ancestors (breadth-first, nearest first); missing ones skipped."""

    def walk(state: CatalogState) -> list[ModelInfo | str]:
        out: list[ModelInfo | str] = []
        seen: set[str] = set()
        queue = [start]
        while queue:
            cid = queue.pop(0)
            if cid in seen:
                continue
            seen.add(cid)
            info = state.info(cid)
            if info is None:
                out.append(cid)  # not in the catalog: read its manifest below
                continue
            out.append(info)
            queue.extend(info.parents)
        return out

    result: list[ModelInfo] = []
    for item in den.catalog.view(walk):
        if isinstance(item, ModelInfo):
            result.append(item)
            continue
        try:
            result.append(den.info_from_manifest(item))
        except ModelNotFoundError:
            continue
    return result


def verify(den: Den, ids: list[str], check_backend: bool) -> list[str]:
    problems: list[str] = [f"{den.label}: {p}" for p in den.backend.check_guarantees()
                           ] if check_backend else []
    with tempfile.TemporaryDirectory(prefix="medcat-den-verify-", dir=den.backend.tmp_dir
                                     ) as scratch:
        from medcat_den.den.fetch import blob_path

        for cid in ids:
            try:
                manifest = den.load_manifest(cid)
            except (IntegrityError, ModelNotFoundError) as e:
                problems.append(str(e))
                continue
            for rel, entry in sorted(manifest.files.items()):
                try:
                    path = blob_path(den, entry.blob, scratch)
                    verify_files([(path, entry.blob, rel)], model=cid)
                except (IntegrityError, KeyNotFoundError) as e:
                    problems.append(f"model {cid}: {e}")
    return problems


def gc(den: Den, grace_seconds: float, dry_run: bool) -> int:
    backend = den.backend
    used: set[str] = set()
    for cid in den.manifest_ids():
        try:
            used.update(e.blob for e in den.load_manifest(cid).files.values())
        except (ModelNotFoundError, IntegrityError):
            continue
    now = time.time()
    freed = 0
    unknown_age = 0
    for obj in backend.list_entries(layout.BLOBS):
        sha = layout.blob_sha(obj.key)
        if sha is None or sha in used:
            continue
        if obj.modified is None:
            unknown_age += 1
            continue
        if now - obj.modified < grace_seconds:
            continue
        if not dry_run:
            backend.delete(obj.key)
        freed += obj.size or 0
    if unknown_age:
        logger.warning("gc: kept %d unused blobs of %s whose age the store does not report",
                       unknown_age, den.label)
    freed += _prune_catalog(den, now, grace_seconds, dry_run)
    freed += _clean_scratch(backend.tmp_dir, now, grace_seconds, dry_run)
    return freed


def _prune_catalog(den: Den, now: float, grace_seconds: float, dry_run: bool) -> int:
    """Delete catalog entries and checkpoints that a checkpoint older than the grace covers."""
    checkpoints = [(layout.checkpoint_seq(o.key), o)
                   for o in den.backend.list_entries(layout.CATALOG_CHECKPOINTS)]
    aged = [(s, o) for s, o in checkpoints if s is not None and o.modified is not None
            and now - o.modified >= grace_seconds]
    if not aged:
        return 0
    keep_seq = max(s for s, _ in aged if s is not None)
    freed = 0
    doomed = [o for s, o in checkpoints if s is not None and s < keep_seq]
    doomed += [o for o in den.backend.list_entries(layout.CATALOG_LOG)
               if (layout.log_seq(o.key) or 0) <= keep_seq]
    for obj in doomed:
        if not dry_run:
            den.backend.delete(obj.key)
        freed += obj.size or 0
    return freed


def _tree_size(path: str) -> int:
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for fn in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, fn)).st_size
    return total


def _clean_scratch(tmp_dir: str | None, now: float, grace_seconds: float, dry_run: bool) -> int:
    """Remove (and count) what killed processes left in the backend's scratch folder."""
    if not tmp_dir or not os.path.isdir(tmp_dir):
        return 0
    freed = 0
    for entry in os.listdir(tmp_dir):
        path = os.path.join(tmp_dir, entry)
        with contextlib.suppress(OSError):
            if now - os.lstat(path).st_mtime < grace_seconds:
                continue
            freed += _tree_size(path)
            if dry_run:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    return freed

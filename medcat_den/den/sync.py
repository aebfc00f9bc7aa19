"""``sync_dens``: copy models from one den to another, parents first, bytes verbatim.

Nothing is rewritten: blobs are copied (after checking their hashes), manifests
byte for byte (after checking them against their content ids), so content ids
and lineage are the same in both dens. Each model is written like a push
(blobs -> manifest -> substance index), and only then are the names moved,
so an interrupted sync leaves the destination consistent; running it again
finishes it. The destination's policy is checked for every model before
anything is copied.

Names: a version number keeps its number unless the destination already uses it
for another model (then the model gets the next free number); aliases follow the
source.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from medcat_den.den.catalog import CatalogState, Entry, ModelSummary
from medcat_den.errors import IntegrityError, KeyNotFoundError
from medcat_den.pack.integrity import sha256_file
from medcat_den.pack.layout import blob_key, manifest_key, substance_key
from medcat_den.pack.manifest import PackManifest

if TYPE_CHECKING:
    from medcat_den.den.den import Den

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do)."""

    models_copied: list[str] = field(default_factory=list)
    models_present: list[str] = field(default_factory=list)
    blobs_copied: int = 0
    bytes_copied: int = 0
    names_updated: list[str] = field(default_factory=list)
    renumbered: list[str] = field(default_factory=list)
    missing_parents: list[str] = field(default_factory=list)


def _ancestors_first(
    src: Den, roots: Iterable[str]
) -> tuple[list[str], dict[str, bytes], set[str]]:
    """Content ids in parents-first order, their manifest bytes, and parents src lacks."""
    order: list[str] = []
    raw: dict[str, bytes] = {}
    missing: set[str] = set()
    state: dict[str, int] = {}

    def visit(cid: str) -> None:
        stack: list[tuple[str, bool]] = [(cid, False)]
        while stack:
            node, done = stack.pop()
            if done:
                if state.get(node) != 2:
                    state[node] = 2
                    order.append(node)
                continue
            if node in state:
                continue
            try:
                data = src.backend.get_bytes(manifest_key(node))
            except KeyNotFoundError:
                missing.add(node)
                state[node] = 2
                continue
            manifest = PackManifest.from_bytes(data, expected_id=node)
            if manifest.content_id != node:
                raise IntegrityError(f"manifest {node} does not match its content id")
            raw[node] = data
            state[node] = 1
            stack.append((node, True))
            for parent in reversed(manifest.parents):
                if parent not in state:
                    stack.append((parent, False))

    for cid in roots:
        visit(cid)
    return order, raw, missing


def _local_blob(src: Den, sha: str, size: int, scratch: str) -> str:
    key = blob_key(sha)
    local = src.backend.local_path(key)  # a remote den's: its verified cached copy
    if local is not None:
        path = local
    else:
        path = os.path.join(scratch, sha)
        src.backend.get_file(key, path)
    if sha256_file(path) != sha:
        raise IntegrityError(f"blob {sha[:16]}… in {src.label} does not match its hash; "
                             "nothing of this model was copied")
    return path


def sync_dens(src: Den, dst: Den, refs: list[str] | None = None, *, names: bool = True,
              dry_run: bool = False) -> SyncReport:
    """Copy ``refs`` (default: every model) and their ancestors from ``src`` to ``dst``."""
    roots = [src.resolve(r) for r in refs] if refs else src.manifest_ids()
    order, raw, missing = _ancestors_first(src, roots)
    report = SyncReport(missing_parents=sorted(missing))
    for cid in missing:
        logger.warning("sync: parent model %s is not in %s; copying its children anyway",
                       cid, src.label)
    manifests = {cid: PackManifest.from_bytes(raw[cid], expected_id=cid) for cid in order}
    todo = [cid for cid in order if not dst.backend.exists(manifest_key(cid))]
    report.models_present = [cid for cid in order if cid not in todo]
    if dst.policy is not None:
        for cid in todo:  # all checks first: a refusal changes nothing
            dst.policy.check_push(dst, manifests[cid])
    total = sum(manifests[c].size for c in todo)
    with tempfile.TemporaryDirectory(prefix="medcat-den-sync-") as scratch, \
            tqdm(total=total, unit="B", unit_scale=True, desc="sync", leave=False) as bar:
        for cid in todo:
            manifest = manifests[cid]
            for sha, size in sorted({(e.blob, e.size) for e in manifest.files.values()}):
                bar.update(size)
                key = blob_key(sha)
                if dst.backend.exists(key):
                    continue
                if not dry_run:
                    path = _local_blob(src, sha, size, scratch)
                    dst.backend.put_file_if_absent(key, path)
                    if path.startswith(scratch):
                        with contextlib.suppress(OSError):
                            os.unlink(path)
                report.blobs_copied += 1
                report.bytes_copied += size
            if not dry_run:
                dst.backend.put_bytes_if_absent(manifest_key(cid), raw[cid])
                dst.backend.put_bytes_if_absent(substance_key(manifest.substance),
                                                cid.encode())
                dst.catalog.append(Entry(op="push", model=ModelSummary.of(cid, manifest)),
                                   lambda _s, _e: None)
            report.models_copied.append(cid)
            logger.info("sync: copied model %s to %s", cid, dst.label)
    if names:
        _sync_names(src, dst, set(order) - missing, report, dry_run)
    return report


def _sync_names(src: Den, dst: Den, ids: set[str], report: SyncReport, dry_run: bool) -> None:
    names = src.catalog.view(lambda st: {n: (dict(r.versions), dict(r.aliases))
                                         for n, r in st.names.items()})
    for name in sorted(names):
        versions = {v: c for v, c in names[name][0].items() if c in ids}
        aliases = {a: c for a, c in names[name][1].items() if c in ids}
        if not versions and not aliases:
            continue
        if not dry_run:

            def notes(state: CatalogState, _e: Entry) -> list[str]:
                return list(state.last_notes)

            report.renumbered.extend(dst.catalog.append(
                Entry(op="sync_names", name=name, versions=versions, alias_map=aliases), notes))
        report.names_updated.append(name)

"""Push: store a CAT, pack folder or ``.zip`` as blobs + manifest + substance index, then name it.

Config: none (functions over a :class:`~medcat_den.den.den.Den`).

Order of writes: blobs, manifest, substance index, one catalog entry. A crash
before the catalog entry leaves an unnamed, unlisted manifest (pushing again
registers it) and orphan blobs that ``gc`` removes after its grace period.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from medcat_den.den import provenance
from medcat_den.den.catalog import CatalogState, Entry, ModelSummary
from medcat_den.den.model_info import ModelInfo
from medcat_den.errors import (
    ConcurrentUpdateError,
    IntegrityError,
    InvalidPackError,
    KeyNotFoundError,
    ModelNotFoundError,
)
from medcat_den.pack import layout
from medcat_den.pack.archive import extract_zip_safely, scan_pack_folder
from medcat_den.pack.canonical import pack_substance
from medcat_den.pack.integrity import sha256_file
from medcat_den.pack.manifest import FileEntry, PackManifest
from medcat_den.pack.names import validate_alias, validate_content_id, validate_name

if TYPE_CHECKING:
    from medcat.cat import CAT

    from medcat_den.den.den import Den

logger = logging.getLogger(__name__)


def push_model(
    den: Den,
    model: CAT | str | os.PathLike[str],
    description: str,
    *,
    name: str | None,
    aliases: list[str] | None,
    metadata: dict[str, Any] | None,
    parents: list[str] | None,
) -> ModelInfo:
    """See :meth:`Den.push_model`."""
    if name is not None:
        validate_name(name)
    for alias in aliases or []:
        validate_alias(alias)
    for p in parents or []:
        validate_content_id(p)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise InvalidPackError(f"no model pack at {path}")
        if os.path.isfile(path):
            with tempfile.TemporaryDirectory(prefix="medcat-den-unzip-") as tmp:
                folder = extract_zip_safely(path, tmp)
                return push_folder(den, folder, description, name, aliases, metadata, parents,
                                   default_name=default_name(path), source=None)
        return push_folder(den, path, description, name, aliases, metadata, parents,
                           default_name=default_name(path), source=None)
    source = provenance.lookup(model)
    with tempfile.TemporaryDirectory(prefix="medcat-den-save-") as tmp:
        folder = model.save_model_pack(tmp, pack_name="pack", make_archive=False,
                                       add_hash_to_pack_name=False)
        return push_folder(den, folder, description, name, aliases, metadata, parents,
                           default_name=(source.name if source else None) or "model",
                           source=source.model_id if source else None)


def push_folder(
    den: Den,
    folder: str,
    description: str,
    name: str | None,
    aliases: list[str] | None,
    metadata: dict[str, Any] | None,
    parents: list[str] | None,
    *,
    default_name: str,
    source: str | None,
) -> ModelInfo:
    backend = den.backend
    for p in parents or []:
        if not backend.exists(layout.manifest_key(p)):
            raise ModelNotFoundError(f"parent model {p} is not in {den.label}")
    sizes = scan_pack_folder(folder)
    if ".schema.json" not in sizes and "cdb/.schema.json" not in sizes:
        raise InvalidPackError(f"{folder} is not a MedCAT model pack (no .schema.json)")
    substance, per_file = pack_substance(folder, sizes)
    files = {
        rel: FileEntry(blob=sha256_file(os.path.join(folder, rel)), size=size,
                       substance=per_file.get(rel))
        for rel, size in sorted(sizes.items())
    }
    existing = existing_for_substance(den, substance)
    if existing is not None:
        logger.info("push: same content as model %s, nothing stored", existing[0])
        cid, manifest = existing
        chosen = name or den.current_name(cid, default_name)
        return name_model(den, cid, manifest, chosen, aliases or [], new=False)
    if parents is None:
        parents = [source] if source else []
    folder_sha = {rel: e.blob for rel, e in files.items()}
    files = reuse_parent_bytes(den, files, parents)
    card = _read_model_card(folder)
    manifest = PackManifest(
        substance=substance,
        files=files,
        name=name or default_name,
        description=description,
        medcat_version=_medcat_version(),
        medcat_model_id=_card_model_id(card),
        model_card=card,
        parents=list(parents),
        metadata=dict(metadata or {}),
    )
    if den.policy is not None:
        den.policy.check_push(den, manifest)
    cid = manifest.content_id
    upload_blobs(den, folder, files, folder_sha)
    backend.put_bytes_if_absent(layout.manifest_key(cid), manifest.to_bytes())
    index_key = layout.substance_key(substance)
    if not backend.put_bytes_if_absent(index_key, cid.encode()):
        winner = backend.get_bytes(index_key).decode()
        if winner != cid:
            # same substance, other bytes, pushed concurrently: keep the winner's
            backend.delete(layout.manifest_key(cid))
            cid, manifest = winner, den.load_manifest(winner)
    logger.info("pushed model %s (%d files, %d bytes)", cid, len(files), manifest.size)
    return name_model(den, cid, manifest, name or default_name, aliases or [], new=True)


def reuse_parent_bytes(den: Den, files: dict[str, FileEntry],
                       parents: list[str]) -> dict[str, FileEntry]:
    """Point unchanged files at the parent's blobs.

    A re-save rewrites bytes of files whose content did not change (set order in
    pickles, load-time paths); the parent's bytes are an equally valid
    serialisation, so a derivative costs only the files it changed.
    """
    out = dict(files)
    for parent in parents:
        try:
            parent_files = den.load_manifest(parent).files
        except ModelNotFoundError:
            continue
        for rel, entry in files.items():
            old = parent_files.get(rel)
            if (old is not None and entry.substance is not None
                    and old.substance == entry.substance and old.blob != entry.blob):
                out[rel] = old
    return out


def existing_for_substance(den: Den, substance: str) -> tuple[str, PackManifest] | None:
    try:
        cid = den.backend.get_bytes(layout.substance_key(substance)).decode()
    except KeyNotFoundError:
        return None
    try:
        return cid, den.load_manifest(cid)
    except ModelNotFoundError:
        return None


def upload_blobs(den: Den, folder: str, files: dict[str, FileEntry],
                 folder_sha: dict[str, str]) -> None:
    todo = {e.blob: (rel, e.size) for rel, e in files.items()}
    with tqdm(total=sum(s for _, s in todo.values()), unit="B", unit_scale=True,
              desc="push", leave=False) as bar:
        for sha, (rel, size) in sorted(todo.items()):
            key = layout.blob_key(sha)
            if folder_sha.get(rel) == sha:
                den.backend.put_file_if_absent(key, os.path.join(folder, rel))
            elif not den.backend.exists(key):
                # a reused parent blob (see reuse_parent_bytes) must already be stored
                raise IntegrityError(
                    f"blob {sha[:16]}… of the parent model is missing from the den")
            bar.update(size)


def name_model(den: Den, cid: str, manifest: PackManifest, name: str, aliases: list[str], *,
               new: bool) -> ModelInfo:
    """Register the model in the catalog under ``name``; raise if it got no version."""
    validate_name(name)
    unchanged = den.catalog.view(
        lambda st: st.info(cid) if st.names_already(cid, name, aliases) else None)
    if unchanged is not None:
        return unchanged
    entry = Entry(op="push", model=ModelSummary.of(cid, manifest), name=name,
                  aliases=list(aliases), new=new)

    def observe(state: CatalogState, _landed: Entry) -> ModelInfo:
        if state.version_of(name, cid) is None:
            raise ConcurrentUpdateError(
                f"push of model {cid[:12]} under name {name!r} in {den.label} ended without "
                "a version (the catalog entry was applied but did not name it)")
        info = state.info(cid)
        assert info is not None
        return info

    return den.catalog.append(entry, observe)


def default_name(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    if base.endswith(".zip"):
        base = base[:-4]
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip(".-_") or "model"
    return base[:100]


def _read_model_card(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, "model_card.json")
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def _card_model_id(card: dict[str, Any]) -> str | None:
    value = card.get("Model ID")
    return str(value) if value else None


def _medcat_version() -> str:
    try:
        from importlib.metadata import version

        return version("medcat")
    except Exception:  # noqa: BLE001 - metadata is best effort
        return ""

"""Fetch: verified pack folders and CAT objects out of a den.

Config: none (functions over a :class:`~medcat_den.den.den.Den`).

Every blob is checked against its sha256 before a pack folder is handed out.
Blobs come from ``backend.local_path`` (a local den's file, or a remote den's
verified copy in its cache) or are downloaded into scratch space
(``backend.tmp_dir``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from medcat_den.den import provenance
from medcat_den.errors import DenError, OfflineError
from medcat_den.pack import layout
from medcat_den.pack.integrity import verify_files
from medcat_den.pack.manifest import PackManifest
from medcat_den.pack.names import validate_pack_path

if TYPE_CHECKING:
    from medcat.cat import CAT

    from medcat_den.den.den import Den

logger = logging.getLogger(__name__)

# MedCAT 2 stores addons (MetaCAT, RelCAT) in components/addon_<full name>/.
_ADDON_FOLDER = "components"
_ADDON_PREFIX = "addon_"


def blob_path(den: Den, sha: str, scratch: str) -> str:
    """A local path holding blob ``sha`` (not yet verified)."""
    key = layout.blob_key(sha)
    local = den.backend.local_path(key)
    if local is not None:
        return local
    if den.offline:
        raise OfflineError(f"offline mode: blob {sha[:16]}… is not available locally")
    dest = os.path.join(scratch, sha)
    if not os.path.exists(dest):
        den.backend.get_file(key, dest)
    return dest


@contextlib.contextmanager
def materialise(den: Den, cid: str) -> Iterator[str]:
    manifest = den.load_manifest(cid)
    tmp = tempfile.mkdtemp(prefix="medcat-den-fetch-", dir=den.backend.tmp_dir)
    try:
        pack = os.path.join(tmp, "pack")
        write_pack(den, cid, manifest, pack, scratch=tmp, link=True)
        yield pack
    finally:
        remove_in_background(tmp)


def fetch_pack(den: Den, cid: str, out_dir: str) -> str:
    manifest = den.load_manifest(cid)
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise DenError(f"output folder {out_dir} is not empty")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".medcat-den-fetch-", dir=parent)
    try:
        staged = os.path.join(tmp, "pack")
        write_pack(den, cid, manifest, staged, scratch=tmp, link=False)
        if os.path.exists(out_dir):
            os.rmdir(out_dir)
        os.replace(staged, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def write_pack(den: Den, cid: str, manifest: PackManifest, pack: str, *, scratch: str,
               link: bool) -> None:
    entries = sorted(manifest.files.items())
    paths: dict[str, str] = {}
    with tqdm(total=manifest.size, unit="B", unit_scale=True, desc="fetch", leave=False) as bar:
        for _rel, entry in entries:
            if entry.blob not in paths:
                paths[entry.blob] = blob_path(den, entry.blob, scratch)
            bar.update(entry.size)
    verify_files(((paths[e.blob], e.blob, rel) for rel, e in entries), model=cid)
    for rel, entry in entries:
        validate_pack_path(rel)
        target = os.path.join(pack, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        src = paths[entry.blob]
        if link:
            try:
                os.link(src, target)
                continue
            except OSError:
                pass
        shutil.copyfile(src, target)


def addon_names(pack_path: str) -> list[str]:
    """Full names of the addons saved in a pack folder (e.g. ``meta_cat.Presence``)."""
    folder = os.path.join(pack_path, _ADDON_FOLDER)
    if not os.path.isdir(folder):
        return []
    return sorted(entry.removeprefix(_ADDON_PREFIX) for entry in os.listdir(folder)
                  if entry.startswith(_ADDON_PREFIX) and os.path.isdir(os.path.join(folder, entry)))


def fetch_model(den: Den, ref: Any, cid: str, cat_class: type[CAT] | None,
                config_dict: dict[str, Any] | None, device: str | None,
                load_kwargs: dict[str, Any]) -> CAT:
    from medcat.cat import CAT

    from medcat_den.den.refs import parse_ref

    cls = cat_class or CAT
    started = time.perf_counter()
    with materialise(den, cid) as pack:
        if device is not None:
            addons = {n: {"general": {"device": device}} for n in addon_names(pack)}
            given = dict(load_kwargs.pop("addon_config_dict", None) or {})
            load_kwargs["addon_config_dict"] = {**addons, **given} or None
        cat = CAT.load_model_pack(pack, config_dict=config_dict or None, **load_kwargs)
    if cls is not type(cat) and issubclass(cls, type(cat)):
        cat.__class__ = cls
    hint = parse_ref(ref).name if isinstance(ref, str) else getattr(ref, "name", None)
    name = den.current_name(cid, "", hint=hint) or None
    provenance.record(cat, provenance.Provenance(model_id=cid, name=name, den_label=den.label))
    if den.policy is not None:
        den.policy.on_fetched(den, cat, cid)
    logger.info("fetched model %s in %.2fs", cid, time.perf_counter() - started)
    return cat


def remove_in_background(path: str) -> None:
    """Hide a temp folder at once (rename) and delete it off the caller's critical path.

    Unlinking a pack's many small files costs a noticeable share of a small
    model's load time; leftovers of an interrupted delete are removed by ``gc``.
    """
    trash = path + ".trash"
    try:
        os.rename(path, trash)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        return
    threading.Thread(target=shutil.rmtree, args=(trash, True), daemon=True,
                     name="medcat-den-cleanup").start()

# CORE-READY
"""``Den``: the public API over a storage backend.

Config (constructor) keys:
    backend (StoreBackend): where blobs, manifests and refs live.
    cache (BlobCache | None): local verified copy of a remote backend's blobs.
    policy (DenPolicy | None): rules checked on every push / applied to fetched models.
    offline (bool): never contact a non-local backend for blobs (serve from cache).

Stored layout (backend keys): ``blobs/sha256/<aa>/<sha256>`` (file bytes),
``manifests/<content_id>.json``, ``substance/<digest>`` (dedup index: the
content id first stored for a substance), refs ``names/<name>.json``
(versions and aliases, moved by compare-and-swap).

A push writes blobs, then the manifest, then the substance index, then the
name ref; a crash at any point leaves either nothing visible or a complete
model, and only orphan blobs for ``gc``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from medcat_den.den.hooks import BlobCache, DenPolicy
from medcat_den.den.legacy_api import LegacyDenAPI
from medcat_den.den.model_info import ModelInfo
from medcat_den.den.refs import LATEST, ModelRef, parse_ref
from medcat_den.errors import (
    AmbiguousRefError,
    ConcurrentUpdateError,
    DenError,
    IntegrityError,
    InvalidNameError,
    InvalidPackError,
    KeyNotFoundError,
    ModelInUseError,
    ModelNotFoundError,
    OfflineError,
)
from medcat_den.store.archive import extract_zip_safely, scan_pack_folder
from medcat_den.store.backend import StoreBackend
from medcat_den.store.canonical import pack_substance
from medcat_den.store.integrity import sha256_file, verify_files
from medcat_den.store.manifest import FileEntry, PackManifest
from medcat_den.store.names import (
    validate_alias,
    validate_content_id,
    validate_name,
    validate_pack_path,
)

if TYPE_CHECKING:
    from medcat.cat import CAT

logger = logging.getLogger(__name__)

_CAS_ATTEMPTS = 50

# id(CAT) -> (weakref to it, content id, name) for CATs loaded from a den; CAT
# defines __eq__ without __hash__, so a WeakKeyDictionary cannot hold it.
_SOURCES: dict[int, tuple[weakref.ref[Any], str, str | None]] = {}


def _remember_source(cat: Any, cid: str, name: str | None) -> None:
    key = id(cat)
    _SOURCES[key] = (weakref.ref(cat, lambda _r: _SOURCES.pop(key, None)), cid, name)


def remember_source(cat: Any, cid: str, name: str | None) -> None:
    """Record that ``cat`` was loaded from den model ``cid`` (for default parents on push)."""
    _remember_source(cat, cid, name)


def _source_entry(cat: Any) -> tuple[str, str | None] | None:
    entry = _SOURCES.get(id(cat))
    if entry is None or entry[0]() is not cat:
        return None
    return entry[1], entry[2]


def source_of(cat: Any) -> str | None:
    """Content id of the den model ``cat`` was fetched as, if any."""
    entry = _source_entry(cat)
    return entry[0] if entry else None


def blob_key(sha: str) -> str:
    return f"blobs/sha256/{sha[:2]}/{sha}"


def manifest_key(cid: str) -> str:
    return f"manifests/{cid}.json"


def _name_key(name: str) -> str:
    return f"names/{validate_name(name)}.json"


class Den(LegacyDenAPI):
    """A content-addressed store of MedCAT model packs."""

    def __init__(
        self,
        backend: StoreBackend,
        *,
        cache: BlobCache | None = None,
        policy: DenPolicy | None = None,
        offline: bool = False,
        label: str | None = None,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.policy = policy
        self.offline = offline
        self.label = label or backend.describe()

    def __repr__(self) -> str:
        return f"Den({self.label})"

    # ------------------------------------------------------------------ names
    def _read_names(self, name: str) -> tuple[dict[str, Any], str | None]:
        got = self.backend.read_ref(_name_key(name))
        if got is None:
            return {"versions": {}, "aliases": {}}, None
        data, token = got
        try:
            record = json.loads(data)
        except ValueError as e:
            raise IntegrityError(f"name ref {name!r} is not valid JSON") from e
        record.setdefault("versions", {})
        record.setdefault("aliases", {})
        return record, token

    def _update_names(
        self, name: str, mutate: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Compare-and-swap loop on a name ref; ``mutate`` returns the new record or None (delete)."""
        key = _name_key(name)
        for attempt in range(_CAS_ATTEMPTS):
            record, token = self._read_names(name)
            new = mutate(json.loads(json.dumps(record)))
            if new is not None and new == record and token is not None:
                return record
            if new is not None and not new.get("versions") and not new.get("aliases"):
                new = None
            if token is None and new is None:
                return None
            data = None if new is None else json.dumps(new, sort_keys=True, indent=1).encode()
            if self.backend.write_ref(key, data, token):
                return new
            time.sleep(min(0.2, 0.005 * (2**attempt)) * random.random())
        raise ConcurrentUpdateError(f"could not update name {name!r}: too many concurrent writers")

    def _names_index(self) -> dict[str, tuple[str, int | None, list[str]]]:
        """content id -> (name, version, aliases) for every named model."""
        index: dict[str, tuple[str, int | None, list[str]]] = {}
        for key in sorted(self.backend.list_refs("names/")):
            name = key[len("names/") : -len(".json")]
            record, _ = self._read_names(name)
            by_id: dict[str, tuple[int | None, list[str]]] = {}
            for v, cid in record["versions"].items():
                by_id[cid] = (int(v), by_id.get(cid, (None, []))[1])
            for alias, cid in record["aliases"].items():
                version, aliases = by_id.get(cid, (None, []))
                by_id[cid] = (version, sorted([*aliases, alias]))
            for cid, (version, aliases) in by_id.items():
                if cid not in index:
                    index[cid] = (name, version, aliases)
        return index

    # -------------------------------------------------------------- manifests
    def _manifest_ids(self) -> list[str]:
        ids = []
        for key in self.backend.list_keys("manifests/"):
            base = key[len("manifests/") :]
            if base.endswith(".json"):
                ids.append(base[: -len(".json")])
        return sorted(ids)

    def _load_manifest(self, cid: str) -> PackManifest:
        try:
            data = self.backend.get_bytes(manifest_key(cid))
        except KeyNotFoundError:
            raise ModelNotFoundError(f"model {cid} not found in {self.label}") from None
        return PackManifest.from_bytes(data, expected_id=cid)

    def resolve(self, ref: str | ModelInfo) -> str:
        """The content id a ref (or ModelInfo) points at; raise ModelNotFoundError."""
        if isinstance(ref, ModelInfo):
            return validate_content_id(ref.model_id)
        parsed = parse_ref(ref)
        if parsed.id_prefix:
            return self._resolve_prefix(parsed.id_prefix)
        return self._resolve_name(parsed)

    def _resolve_prefix(self, prefix: str) -> str:
        if len(prefix) == 64 and self.backend.exists(manifest_key(prefix)):
            return prefix
        matches = [cid for cid in self._manifest_ids() if cid.startswith(prefix)]
        if not matches:
            raise ModelNotFoundError(f"no model with content id {prefix} in {self.label}")
        if len(matches) > 1:
            raise AmbiguousRefError(f"content id prefix {prefix} matches {len(matches)} models")
        return matches[0]

    def _resolve_name(self, parsed: ModelRef) -> str:
        assert parsed.name is not None
        record, token = self._read_names(parsed.name)
        if token is None:
            raise ModelNotFoundError(f"no model named {parsed.name!r} in {self.label}")
        if parsed.version is not None:
            cid = record["versions"].get(str(parsed.version))
            what = f"version {parsed.version}"
        else:
            cid = record["aliases"].get(parsed.alias or LATEST)
            what = f"alias {parsed.alias or LATEST!r}"
        if cid is None:
            raise ModelNotFoundError(f"model {parsed.name!r} has no {what} in {self.label} ({parsed})")
        return str(cid)

    def manifest(self, ref: str | ModelInfo) -> PackManifest:
        return self._load_manifest(self.resolve(ref))

    def _info_from(
        self, cid: str, manifest: PackManifest, index: dict[str, tuple[str, int | None, list[str]]]
    ) -> ModelInfo:
        name, version, aliases = index.get(cid, (manifest.name, None, []))
        return ModelInfo(
            model_id=cid,
            name=name,
            version=version,
            aliases=aliases,
            description=manifest.description,
            medcat_model_id=manifest.medcat_model_id,
            parents=list(manifest.parents),
            created_at=manifest.created_at,
            size=manifest.size,
            metadata=dict(manifest.metadata),
        )

    def info(self, ref: str | ModelInfo) -> ModelInfo:
        cid = self.resolve(ref)
        return self._info_from(cid, self._load_manifest(cid), self._names_index())

    def list_available_models(
        self, backend_name: str | None = None, *, name: str | None = None
    ) -> list[ModelInfo]:
        """Every model in the den (optionally only those named ``name``), newest first.

        ``backend_name`` (medcat-den 0.6.0's first argument) lists another backend of a
        multi-backend den; a name it does not know raises NoSuchBackendException.
        """
        if backend_name is not None and self.get_backend(backend_name) is not self:
            return self.legacy_list_models(backend_name, name)
        index = self._names_index()
        out = []
        for cid in self._manifest_ids():
            try:
                manifest = self._load_manifest(cid)
            except ModelNotFoundError:
                continue  # deleted while listing
            info = self._info_from(cid, manifest, index)
            if name is None or info.name == name:
                out.append(info)
        out.sort(key=lambda i: (i.created_at, i.model_id), reverse=True)
        return out

    # ------------------------------------------------------------------- push
    def push_model(
        self,
        model: CAT | str | os.PathLike[str],
        description: str = "",
        *,
        name: str | None = None,
        aliases: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        parents: list[str] | None = None,
    ) -> ModelInfo:
        """Store a CAT object, a pack folder or a pack ``.zip``; return its ModelInfo.

        Identical content is stored once: pushing it again returns the existing
        model (and applies ``name`` / ``aliases``). For a CAT fetched from a den,
        ``name`` and ``parents`` default to the model it was fetched as.
        """
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
                    return self._push_folder(folder, description, name, aliases, metadata, parents,
                                             default_name=_default_name(path), source=None)
            return self._push_folder(path, description, name, aliases, metadata, parents,
                                     default_name=_default_name(path), source=None)
        source = _source_entry(model)
        with tempfile.TemporaryDirectory(prefix="medcat-den-save-") as tmp:
            folder = model.save_model_pack(tmp, pack_name="pack", make_archive=False,
                                           add_hash_to_pack_name=False)
            return self._push_folder(folder, description, name, aliases, metadata, parents,
                                     default_name=(source[1] if source else None) or "model",
                                     source=source[0] if source else None)

    def _push_folder(
        self,
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
        for p in parents or []:
            if not self.backend.exists(manifest_key(p)):
                raise ModelNotFoundError(f"parent model {p} is not in {self.label}")
        sizes = scan_pack_folder(folder)
        if ".schema.json" not in sizes and "cdb/.schema.json" not in sizes:
            raise InvalidPackError(f"{folder} is not a MedCAT model pack (no .schema.json)")
        substance, per_file = pack_substance(folder, sizes)
        files = {
            rel: FileEntry(blob=sha256_file(os.path.join(folder, rel)), size=size,
                           substance=per_file.get(rel))
            for rel, size in sorted(sizes.items())
        }
        existing = self._existing_for_substance(substance)
        if existing is not None:
            logger.info("push: same content as model %s, nothing stored", existing)
            return self._name_model(existing, name or self._current_name(existing, default_name),
                                    aliases or [], new=False)
        if parents is None:
            parents = [source] if source else []
        folder_sha = {rel: e.blob for rel, e in files.items()}
        files = self._reuse_parent_bytes(files, parents)
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
        if self.policy is not None:
            self.policy.check_push(self, manifest)
        cid = manifest.content_id
        self._upload_blobs(folder, files, folder_sha)
        self.backend.put_bytes_if_absent(manifest_key(cid), manifest.to_bytes())
        index_key = f"substance/{substance}"
        if not self.backend.put_bytes_if_absent(index_key, cid.encode()):
            winner = self.backend.get_bytes(index_key).decode()
            if winner != cid:
                # same substance, other bytes, pushed concurrently: keep the winner's
                self.backend.delete(manifest_key(cid))
                cid = winner
        logger.info("pushed model %s (%d files, %d bytes)", cid, len(files), manifest.size)
        return self._name_model(cid, name or default_name, aliases or [], new=True)

    def _reuse_parent_bytes(
        self, files: dict[str, FileEntry], parents: list[str]
    ) -> dict[str, FileEntry]:
        """Point unchanged files at the parent's blobs.

        A re-save rewrites bytes of files whose content did not change (set
        order in pickles, load-time paths); the parent's bytes are an equally
        valid serialisation, so a derivative costs only the files it changed.
        """
        out = dict(files)
        for parent in parents:
            try:
                parent_files = self._load_manifest(parent).files
            except ModelNotFoundError:
                continue
            for rel, entry in files.items():
                old = parent_files.get(rel)
                if (old is not None and entry.substance is not None
                        and old.substance == entry.substance and old.blob != entry.blob):
                    out[rel] = old
        return out

    def _existing_for_substance(self, substance: str) -> str | None:
        try:
            cid = self.backend.get_bytes(f"substance/{substance}").decode()
        except KeyNotFoundError:
            return None
        return cid if self.backend.exists(manifest_key(cid)) else None

    def _current_name(self, cid: str, default: str, hint: str | None = None) -> str:
        """The name whose versions include ``cid`` (checking ``hint`` first: one ref read)."""
        if hint:
            with contextlib.suppress(DenError):
                record, token = self._read_names(hint)
                if token is not None and cid in record["versions"].values():
                    return hint
        entry = self._names_index().get(cid)
        return entry[0] if entry else default

    def _upload_blobs(
        self, folder: str, files: dict[str, FileEntry], folder_sha: dict[str, str]
    ) -> None:
        todo = {e.blob: (rel, e.size) for rel, e in files.items()}
        with tqdm(total=sum(s for _, s in todo.values()), unit="B", unit_scale=True,
                  desc="push", leave=False) as bar:
            for sha, (rel, size) in sorted(todo.items()):
                key = blob_key(sha)
                if folder_sha.get(rel) == sha:
                    self.backend.put_file_if_absent(key, os.path.join(folder, rel))
                elif not self.backend.exists(key):
                    # a reused parent blob (see _reuse_parent_bytes) must already be stored
                    raise IntegrityError(
                        f"blob {sha[:16]}… of the parent model is missing from the den")
                bar.update(size)

    def _name_model(self, cid: str, name: str, aliases: list[str], *, new: bool) -> ModelInfo:
        validate_name(name)

        def mutate(record: dict[str, Any]) -> dict[str, Any]:
            versions: dict[str, str] = record["versions"]
            if cid not in versions.values():
                nxt = max((int(v) for v in versions), default=0) + 1
                versions[str(nxt)] = cid
                record["aliases"][LATEST] = cid
            elif new or LATEST not in record["aliases"]:
                record["aliases"].setdefault(LATEST, cid)
            for alias in aliases:
                record["aliases"][alias] = cid
            return record

        self._update_names(name, mutate)
        return self.info(cid)

    # ------------------------------------------------------------------ fetch
    def _blob_path(self, sha: str, size: int, scratch: str) -> str:
        key = blob_key(sha)
        local = self.backend.local_path(key)
        if local is not None:
            return local
        if self.cache is not None:
            return self.cache.ensure_blob(self.backend, key, sha, size)
        if self.offline:
            raise OfflineError(f"offline mode: blob {sha[:16]}… is not available locally")
        dest = os.path.join(scratch, sha)
        if not os.path.exists(dest):
            self.backend.get_file(key, dest)
        return dest

    @contextlib.contextmanager
    def materialise(self, ref: str | ModelInfo) -> Iterator[str]:
        """A private, verified pack folder for ``ref``; removed when the block exits."""
        cid = self.resolve(ref)
        manifest = self._load_manifest(cid)
        base = getattr(self.backend, "tmp_dir", None)
        tmp = tempfile.mkdtemp(prefix="medcat-den-fetch-", dir=base)
        try:
            pack = os.path.join(tmp, "pack")
            self._write_pack(cid, manifest, pack, scratch=tmp, link=True)
            yield pack
        finally:
            _remove_in_background(tmp)

    def fetch_pack(self, ref: str | ModelInfo, out_dir: str) -> str:
        """Write a verified copy of the pack into the (new or empty) folder ``out_dir``."""
        cid = self.resolve(ref)
        manifest = self._load_manifest(cid)
        out_dir = os.path.abspath(out_dir)
        if os.path.exists(out_dir) and os.listdir(out_dir):
            raise DenError(f"output folder {out_dir} is not empty")
        parent = os.path.dirname(out_dir)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".medcat-den-fetch-", dir=parent)
        try:
            staged = os.path.join(tmp, "pack")
            self._write_pack(cid, manifest, staged, scratch=tmp, link=False)
            if os.path.exists(out_dir):
                os.rmdir(out_dir)
            os.replace(staged, out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out_dir

    def _write_pack(
        self, cid: str, manifest: PackManifest, pack: str, *, scratch: str, link: bool
    ) -> None:
        entries = sorted(manifest.files.items())
        paths: dict[str, str] = {}
        with tqdm(total=manifest.size, unit="B", unit_scale=True, desc="fetch",
                  leave=False) as bar:
            for _rel, entry in entries:
                if entry.blob not in paths:
                    paths[entry.blob] = self._blob_path(entry.blob, entry.size, scratch)
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

    def fetch_model(
        self,
        ref: str | ModelInfo,
        cat_class: type[CAT] | None = None,
        config_dict: dict[str, Any] | None = None,
        **load_kwargs: Any,
    ) -> CAT:
        """Load a verified model as a CAT (or ``cat_class``) object.

        ``load_kwargs`` (``addon_config_dict``, ``keep_addons_of_types``) go to
        ``CAT.load_model_pack``.
        """
        from medcat.cat import CAT

        cls = cat_class or CAT
        cid = self.resolve(ref)
        started = time.perf_counter()
        with self.materialise(cid) as pack:
            cat = CAT.load_model_pack(pack, config_dict=config_dict, **load_kwargs)
        if cls is not type(cat) and issubclass(cls, type(cat)):
            cat.__class__ = cls
        hint = parse_ref(ref).name if isinstance(ref, str) else getattr(ref, "name", None)
        name = self._current_name(cid, "", hint=hint) or None
        _remember_source(cat, cid, name)
        if self.policy is not None:
            self.policy.on_fetched(self, cat, cid)
        logger.info("fetched model %s in %.2fs", cid, time.perf_counter() - started)
        return cat

    def source_of(self, cat: Any) -> str | None:
        return source_of(cat)

    # ---------------------------------------------------------- housekeeping
    def tag(self, ref: str | ModelInfo, alias: str) -> ModelInfo:
        """Point ``alias`` of the model's name at it (moves the alias atomically)."""
        validate_alias(alias)
        cid = self.resolve(ref)
        parsed = parse_ref(ref) if isinstance(ref, str) else None
        name = parsed.name if parsed and parsed.name else self._current_name(cid, "")
        if not name:
            raise InvalidNameError(f"model {cid} has no name to tag; push it with a name first")

        def mutate(record: dict[str, Any]) -> dict[str, Any]:
            if cid not in record["versions"].values():
                nxt = max((int(v) for v in record["versions"]), default=0) + 1
                record["versions"][str(nxt)] = cid
            record["aliases"][alias] = cid
            return record

        self._update_names(name, mutate)
        return self.info(cid)

    def untag(self, name: str, alias: str) -> None:
        validate_name(name)
        validate_alias(alias)
        if alias == LATEST:
            raise InvalidNameError("'latest' is kept automatically and cannot be removed")
        found = False

        def mutate(record: dict[str, Any]) -> dict[str, Any]:
            nonlocal found
            found = record["aliases"].pop(alias, None) is not None
            return record

        self._update_names(name, mutate)
        if not found:
            raise ModelNotFoundError(f"model {name!r} has no alias {alias!r}")

    def children_of(self, cid: str) -> list[str]:
        out = []
        for other in self._manifest_ids():
            if other == cid:
                continue
            try:
                if cid in self._load_manifest(other).parents:
                    out.append(other)
            except (ModelNotFoundError, IntegrityError):
                continue
        return out

    def delete(self, ref: str | ModelInfo, force: bool = False) -> str:
        """Remove a model (its blobs go at the next ``gc``); return its content id."""
        cid = self.resolve(ref)
        manifest = self._load_manifest(cid)
        children = self.children_of(cid)
        if children and not force:
            raise ModelInUseError(
                f"model {cid} is a parent of {len(children)} model(s) "
                f"({', '.join(c[:12] for c in children)}); use force=True to delete it anyway"
            )
        for key in list(self.backend.list_refs("names/")):
            name = key[len("names/") : -len(".json")]

            def mutate(record: dict[str, Any]) -> dict[str, Any]:
                record["versions"] = {v: c for v, c in record["versions"].items() if c != cid}
                record["aliases"] = {a: c for a, c in record["aliases"].items() if c != cid}
                if LATEST not in record["aliases"] and record["versions"]:
                    top = max(record["versions"], key=int)
                    record["aliases"][LATEST] = record["versions"][top]
                return record

            self._update_names(name, mutate)
        index_key = f"substance/{manifest.substance}"
        try:
            if self.backend.get_bytes(index_key).decode() == cid:
                self.backend.delete(index_key)
        except KeyNotFoundError:
            pass
        self.backend.delete(manifest_key(cid))
        logger.info("deleted model %s", cid)
        return cid

    def lineage(self, ref: str | ModelInfo) -> list[ModelInfo]:
        """The model and its ancestors (breadth-first, nearest first); missing ones skipped."""
        index = self._names_index()
        start = self.resolve(ref)
        out: list[ModelInfo] = []
        seen: set[str] = set()
        queue = [start]
        while queue:
            cid = queue.pop(0)
            if cid in seen:
                continue
            seen.add(cid)
            try:
                manifest = self._load_manifest(cid)
            except ModelNotFoundError:
                continue
            out.append(self._info_from(cid, manifest, index))
            queue.extend(manifest.parents)
        return out

    def verify(self, ref: str | ModelInfo | None = None) -> list[str]:
        """Re-hash every blob of one model (or all); return the problems found."""
        ids = [self.resolve(ref)] if ref is not None else self._manifest_ids()
        problems: list[str] = []
        with tempfile.TemporaryDirectory(prefix="medcat-den-verify-") as scratch:
            for cid in ids:
                try:
                    manifest = self._load_manifest(cid)
                except (IntegrityError, ModelNotFoundError) as e:
                    problems.append(str(e))
                    continue
                for rel, entry in sorted(manifest.files.items()):
                    try:
                        path = self._blob_path(entry.blob, entry.size, scratch)
                        verify_files([(path, entry.blob, rel)], model=cid)
                    except (IntegrityError, KeyNotFoundError) as e:
                        problems.append(f"model {cid}: {e}")
        return problems

    def gc(self, grace_seconds: float = 3600.0, dry_run: bool = False) -> int:
        """Delete blobs no manifest uses (older than ``grace_seconds``); return bytes freed."""
        used: set[str] = set()
        for cid in self._manifest_ids():
            try:
                used.update(e.blob for e in self._load_manifest(cid).files.values())
            except (ModelNotFoundError, IntegrityError):
                continue
        now = time.time()
        freed = 0
        for key in list(self.backend.list_keys("blobs/sha256/")):
            sha = key.rsplit("/", 1)[-1]
            if sha in used:
                continue
            local = self.backend.local_path(key)
            size = 0
            if local is not None:
                st = os.stat(local)
                if now - st.st_mtime < grace_seconds:
                    continue
                size = st.st_size
            if not dry_run:
                self.backend.delete(key)
            freed += size
        tmp_dir = getattr(self.backend, "tmp_dir", None)
        if tmp_dir and os.path.isdir(tmp_dir) and not dry_run:
            for entry in os.listdir(tmp_dir):
                path = os.path.join(tmp_dir, entry)
                with contextlib.suppress(OSError):
                    if now - os.lstat(path).st_mtime >= grace_seconds:
                        if os.path.isdir(path) and not os.path.islink(path):
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            os.unlink(path)
        return freed


def _remove_in_background(path: str) -> None:
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


def _default_name(path: str) -> str:
    import re

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


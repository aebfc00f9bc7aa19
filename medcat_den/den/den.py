"""``Den``: the public API over a storage backend (a thin facade over the den's parts).

Config (constructor) keys:
    backend (StoreBackend): where blobs, manifests and the catalog live.
    cache (BlobCache | None): local verified copy of a remote backend's blobs; the den
        reads the remote through a ``CachedBackend`` over it (the one owner of caching
        and offline mode).
    policy (DenPolicy | None): rules checked on every push / applied to fetched models.
    offline (bool): never contact a non-local backend (serve from the cache).
    label (str | None): the den's name in messages (default: the backend's description).

Parts: ``store.layout`` (every storage key), ``den.catalog`` (names, versions,
aliases and listing, an append-only log), ``den.push``, ``den.fetch``,
``den.maintenance`` (delete, lineage, verify, gc) and ``den.provenance`` (which
den model a CAT came from).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from medcat_den.cache import BlobCache, CachedBackend
from medcat_den.den import fetch, maintenance, provenance, push
from medcat_den.den.catalog import Catalog, CatalogState, Entry, info_of
from medcat_den.den.hooks import DenPolicy
from medcat_den.den.legacy_api import LegacyDenAPI
from medcat_den.den.model_info import ModelInfo
from medcat_den.den.refs import LATEST, ModelRef, parse_ref
from medcat_den.errors import (
    AmbiguousRefError,
    DenError,
    InvalidNameError,
    KeyNotFoundError,
    ModelNotFoundError,
)
from medcat_den.pack import layout
from medcat_den.pack.manifest import PackManifest
from medcat_den.pack.names import validate_alias, validate_content_id, validate_name
from medcat_den.storage.backend import StoreBackend

if TYPE_CHECKING:
    from medcat.cat import CAT

logger = logging.getLogger(__name__)

blob_key = layout.blob_key
manifest_key = layout.manifest_key


def remember_source(cat: Any, cid: str, name: str | None) -> None:
    """Record that ``cat`` was loaded from den model ``cid`` (for default parents on push)."""
    provenance.record(cat, provenance.Provenance(model_id=cid, name=name))


def source_of(cat: Any) -> str | None:
    """Content id of the den model ``cat`` was fetched as, if any."""
    return provenance.source_of(cat)


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
        if cache is not None and not backend.is_local and not isinstance(backend, CachedBackend):
            backend = CachedBackend(backend, cache, offline=offline)
        elif isinstance(backend, CachedBackend) and offline:
            backend.offline = True
        self.backend = backend
        self.cache = cache if cache is not None else (
            backend.cache if isinstance(backend, CachedBackend) else None)
        self.policy = policy
        self.label = label or backend.describe()
        self.catalog = Catalog(backend, self.label)
        self._offline_local = offline and not isinstance(backend, CachedBackend)

    @property
    def offline(self) -> bool:
        """Offline mode, as the cache layer that owns it says."""
        if isinstance(self.backend, CachedBackend):
            return self.backend.offline
        return self._offline_local and not self.backend.is_local

    def __repr__(self) -> str:
        return f"Den({self.label})"

    # ------------------------------------------------------------- manifests
    def manifest_ids(self) -> list[str]:
        """Content ids of every stored manifest (a full listing; gc, sync, verify)."""
        return sorted(c for c in map(layout.manifest_id, self.backend.list_keys(layout.MANIFESTS))
                      if c)

    _manifest_ids = manifest_ids

    def load_manifest(self, cid: str) -> PackManifest:
        try:
            data = self.backend.get_bytes(layout.manifest_key(cid))
        except KeyNotFoundError:
            raise ModelNotFoundError(f"model {cid} not found in {self.label}") from None
        return PackManifest.from_bytes(data, expected_id=cid)

    _load_manifest = load_manifest

    def manifest(self, ref: str | ModelInfo) -> PackManifest:
        return self.load_manifest(self.resolve(ref))

    def info_from_manifest(self, cid: str) -> ModelInfo:
        """ModelInfo of a stored model the catalog does not list (an interrupted push)."""
        from medcat_den.den.catalog import ModelSummary

        summary = ModelSummary.of(cid, self.load_manifest(cid))
        return self.catalog.view(lambda st: info_of(summary, st.index()))

    # ----------------------------------------------------------------- names
    def resolve(self, ref: str | ModelInfo) -> str:
        """The content id a ref (or ModelInfo) points at; raise ModelNotFoundError."""
        if isinstance(ref, ModelInfo):
            return validate_content_id(ref.model_id)
        parsed = parse_ref(ref)
        if parsed.id_prefix:
            return self._resolve_prefix(parsed.id_prefix)
        return self.catalog.view(lambda st: self._resolve_name(st, parsed))

    def _resolve_prefix(self, prefix: str) -> str:
        matches = self.catalog.view(
            lambda st: [c for c in st.models if c.startswith(prefix)])
        if not matches:
            if len(prefix) == 64 and self.backend.exists(layout.manifest_key(prefix)):
                return prefix  # stored, not (yet) in the catalog
            matches = [c for c in self.manifest_ids() if c.startswith(prefix)]
        if not matches:
            raise ModelNotFoundError(f"no model with content id {prefix} in {self.label}")
        if len(matches) > 1:
            raise AmbiguousRefError(f"content id prefix {prefix} matches {len(matches)} models")
        return matches[0]

    def _resolve_name(self, state: CatalogState, parsed: ModelRef) -> str:
        assert parsed.name is not None
        record = state.names.get(parsed.name)
        if record is None:
            raise ModelNotFoundError(f"no model named {parsed.name!r} in {self.label}")
        if parsed.version is not None:
            cid = record.versions.get(parsed.version)
            what = f"version {parsed.version}"
        else:
            cid = record.aliases.get(parsed.alias or LATEST)
            what = f"alias {parsed.alias or LATEST!r}"
        if cid is None:
            raise ModelNotFoundError(f"model {parsed.name!r} has no {what} in {self.label} ({parsed})")
        return cid

    def current_name(self, cid: str, default: str, hint: str | None = None) -> str:
        """The name whose versions include ``cid`` (``hint`` first), else ``default``."""

        def find(state: CatalogState) -> str:
            if hint and state.version_of(hint, cid) is not None:
                return hint
            entry = state.index().get(cid)
            return entry[0] if entry else default

        with contextlib.suppress(DenError):
            return self.catalog.view(find)
        return default

    # ---------------------------------------------------------------- listing
    def info(self, ref: str | ModelInfo) -> ModelInfo:
        cid = self.resolve(ref)
        found = self.catalog.view(lambda st: st.info(cid))
        return found if found is not None else self.info_from_manifest(cid)

    def list_available_models(
        self, backend_name: str | None = None, *, name: str | None = None
    ) -> list[ModelInfo]:
        """Every model in the den (optionally only those named ``name``), newest first.

        ``backend_name`` (medcat-den 0.6.0's first argument) lists another backend of a
        multi-backend den; a name it does not know raises NoSuchBackendException.
        """
        if backend_name is not None and self.get_backend(backend_name) is not self:
            return self.legacy_list_models(backend_name, name)

        def listing(state: CatalogState) -> list[ModelInfo]:
            index = state.index()
            out = [info_of(s, index) for s in state.models.values()]
            return [i for i in out if name is None or i.name == name]

        out = self.catalog.view(listing)
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
        ``name`` and ``parents`` default to the model it was fetched as. Raises
        ConcurrentUpdateError if the model did not get its version.
        """
        return push.push_model(self, model, description, name=name, aliases=aliases,
                               metadata=metadata, parents=parents)

    # ------------------------------------------------------------------ fetch
    @contextlib.contextmanager
    def materialise(self, ref: str | ModelInfo) -> Iterator[str]:
        """A private, verified pack folder for ``ref``; removed when the block exits."""
        with fetch.materialise(self, self.resolve(ref)) as pack:
            yield pack

    def fetch_pack(self, ref: str | ModelInfo, out_dir: str) -> str:
        """Write a verified copy of the pack into the (new or empty) folder ``out_dir``."""
        return fetch.fetch_pack(self, self.resolve(ref), out_dir)

    def fetch_model(
        self,
        ref: str | ModelInfo,
        cat_class: type[CAT] | None = None,
        config_dict: dict[str, Any] | None = None,
        *,
        device: str | None = None,
        **load_kwargs: Any,
    ) -> CAT:
        """Load a verified model as a CAT (or ``cat_class``) object.

        ``device`` (e.g. ``cuda:0``) applies to every torch addon of the pack;
        ``load_kwargs`` (``addon_config_dict``, ``keep_addons_of_types``) go to
        ``CAT.load_model_pack``.
        """
        return fetch.fetch_model(self, ref, self.resolve(ref), cat_class, config_dict, device,
                                 dict(load_kwargs))

    def source_of(self, cat: Any) -> str | None:
        return source_of(cat)

    # ---------------------------------------------------------- housekeeping
    def tag(self, ref: str | ModelInfo, alias: str) -> ModelInfo:
        """Point ``alias`` of the model's name at it (moves the alias atomically)."""
        validate_alias(alias)
        cid = self.resolve(ref)
        parsed = parse_ref(ref) if isinstance(ref, str) else None
        name = parsed.name if parsed and parsed.name else self.current_name(cid, "")
        if not name:
            raise InvalidNameError(f"model {cid} has no name to tag; push it with a name first")
        unchanged = self.catalog.view(
            lambda st: st.info(cid) if st.names_already(cid, name, [alias]) else None)
        if unchanged is not None:
            return unchanged
        if self.catalog.view(lambda st: cid not in st.models):
            # stored but unlisted (an interrupted push): register it with the tag
            push.name_model(self, cid, self.load_manifest(cid), name, [], new=False)
        info = self.catalog.append(Entry(op="tag", cid=cid, name=name, alias=alias),
                                   lambda st, _e: st.info(cid))
        if info is None:
            raise ModelNotFoundError(f"model {cid} was deleted while being tagged")
        return info

    def untag(self, name: str, alias: str) -> None:
        validate_name(name)
        validate_alias(alias)
        if alias == LATEST:
            raise InvalidNameError("'latest' is kept automatically and cannot be removed")

        def had(state: CatalogState) -> bool:
            record = state.names.get(name)
            return record is not None and alias in record.aliases

        if not self.catalog.view(had):
            raise ModelNotFoundError(f"model {name!r} has no alias {alias!r}")
        self.catalog.append(Entry(op="untag", name=name, alias=alias), lambda _s, _e: None)

    def children_of(self, cid: str) -> list[str]:
        return maintenance.children_of(self, cid)

    def delete(self, ref: str | ModelInfo, force: bool = False) -> str:
        """Remove a model (its blobs go at the next ``gc``); return its content id."""
        return maintenance.delete(self, self.resolve(ref), force)

    def lineage(self, ref: str | ModelInfo) -> list[ModelInfo]:
        """The model and its ancestors (breadth-first, nearest first); missing ones skipped."""
        return maintenance.lineage(self, self.resolve(ref))

    def verify(self, ref: str | ModelInfo | None = None) -> list[str]:
        """Re-hash every blob of one model (or all, plus the backend's write guarantees)."""
        ids = [self.resolve(ref)] if ref is not None else self.manifest_ids()
        return maintenance.verify(self, ids, check_backend=ref is None)

    def check_backend(self) -> list[str]:
        """Problems with the store's write guarantees (conditional create, CAS); [] if none."""
        return self.backend.check_guarantees()

    def gc(self, grace_seconds: float = 3600.0, dry_run: bool = False) -> int:
        """Delete unused blobs and stale catalog / scratch files older than ``grace_seconds``.

        Ages and sizes come from the store's listing; returns the bytes freed.
        """
        return maintenance.gc(self, grace_seconds, dry_run)

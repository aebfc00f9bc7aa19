"""``Catalog``: the den's models, names, versions and aliases as an append-only log.

Config keys:
    backend (StoreBackend): where the log and checkpoints live (keys: ``store.layout``).
    label (str): the den's name in errors.

Every change (a push naming a model, tag, untag, delete, a sync of names) is one
immutable entry ``catalog/log/<seq>``, created with put-if-absent at ``seq`` =
the last entry seen + 1; a writer that loses the race re-reads and takes the
next number, so pushes never lock and a crash leaves either a whole entry or
none. Versions are assigned when entries are replayed in log order (this
module holds the one "next version = max + 1, move latest" rule), so every
named push gets a version and no two pushes get the same one.

Every ``COMPACT_EVERY`` entries, the writer that appended writes the whole state
as ``catalog/checkpoints/<seq>`` (put-if-absent; any two writers produce the same
bytes). A reader lists the checkpoints, reads the latest, lists the entries
after it and reads those: O(1) requests plus one listing page per 1,000
checkpoints or entries, however many models the den holds. Entries and
checkpoints are immutable, so a local cache (``CachedBackend``) keeps them and
a later read costs the two listings only.

Dens written before the catalog (``names/<name>.json`` refs + manifests) are
read on first use and upgraded in place: checkpoint 0 holds every model, name,
version and alias found. Design and failure modes: adrs/0703-catalog-log.md.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medcat_den.den.model_info import ModelInfo
from medcat_den.den.refs import LATEST
from medcat_den.errors import (
    ConcurrentUpdateError,
    DenError,
    IntegrityError,
    KeyNotFoundError,
)
from medcat_den.pack import layout
from medcat_den.pack.manifest import PackManifest
from medcat_den.storage.backend import StoreBackend

logger = logging.getLogger(__name__)

T = TypeVar("T")

ENTRY_SCHEMA = "medcat-den/catalog-entry/1"
CHECKPOINT_SCHEMA = "medcat-den/catalog-checkpoint/1"
COMPACT_EVERY = 16
_APPEND_ATTEMPTS = 200
_REREADS = 4


class ModelSummary(BaseModel):
    """What listing a model needs, copied from its manifest at first push."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    name: str | None = None
    description: str = ""
    medcat_model_id: str | None = None
    parents: list[str] = Field(default_factory=list)
    created_at: datetime
    size: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, cid: str, manifest: PackManifest) -> ModelSummary:
        return cls(model_id=cid, name=manifest.name, description=manifest.description,
                   medcat_model_id=manifest.medcat_model_id, parents=list(manifest.parents),
                   created_at=manifest.created_at, size=manifest.size,
                   metadata=dict(manifest.metadata))


Op = Literal["push", "tag", "untag", "delete", "sync_names"]


class Entry(BaseModel):
    """One change to the catalog (``catalog/log/<seq>.json``)."""

    model_config = ConfigDict(frozen=True)

    schema_version: str = ENTRY_SCHEMA
    op: Op
    writer: str = Field(default_factory=lambda: uuid.uuid4().hex)
    model: ModelSummary | None = None  # push: the model (also re-registers a crashed push)
    cid: str | None = None
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    new: bool = False  # push: the content was stored by this push
    alias: str | None = None
    versions: dict[int, str] = Field(default_factory=dict)  # sync_names
    alias_map: dict[str, str] = Field(default_factory=dict)  # sync_names

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_defaults=False).encode()


class NameSnapshot(BaseModel):
    versions: dict[int, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)


class Checkpoint(BaseModel):
    """The whole catalog after entry ``seq`` (``catalog/checkpoints/<seq>.json``)."""

    schema_version: str = CHECKPOINT_SCHEMA
    seq: int
    models: list[ModelSummary]
    names: dict[str, NameSnapshot]


@dataclass
class NameRecord:
    versions: dict[int, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


def next_version(record: NameRecord) -> int:
    """The version number a new model under this name gets."""
    return max(record.versions, default=0) + 1


@dataclass
class CatalogState:
    """Models and names as of entry ``seq``."""

    seq: int = 0
    models: dict[str, ModelSummary] = field(default_factory=dict)
    names: dict[str, NameRecord] = field(default_factory=dict)
    #: notes of the last entry applied (a sync's renumbered versions)
    last_notes: list[str] = field(default_factory=list)
    _index: dict[str, tuple[str, int | None, list[str]]] | None = None
    _index_seq: int = -1

    # --- replay -----------------------------------------------------------------
    def apply(self, entry: Entry) -> list[str]:
        """Apply one entry; return notes (sync renumbering)."""
        notes: list[str] = []
        if entry.op == "push" and entry.model is not None:
            self.models.setdefault(entry.model.model_id, entry.model)
            if entry.name:
                self._name(entry.name, entry.model.model_id, entry.aliases, entry.new)
        elif entry.op == "tag" and entry.cid in self.models and entry.name and entry.alias:
            record = self.names.setdefault(entry.name, NameRecord())
            if entry.cid not in record.versions.values():
                record.versions[next_version(record)] = entry.cid
            record.aliases[entry.alias] = entry.cid
        elif entry.op == "untag" and entry.name in self.names and entry.alias != LATEST:
            self.names[entry.name].aliases.pop(entry.alias or "", None)
            self._drop_if_empty(entry.name)
        elif entry.op == "delete" and entry.cid:
            self.models.pop(entry.cid, None)
            for name in list(self.names):
                record = self.names[name]
                record.versions = {v: c for v, c in record.versions.items() if c != entry.cid}
                record.aliases = {a: c for a, c in record.aliases.items() if c != entry.cid}
                if LATEST not in record.aliases and record.versions:
                    record.aliases[LATEST] = record.versions[max(record.versions)]
                self._drop_if_empty(name)
        elif entry.op == "sync_names" and entry.name:
            notes = self._sync(entry.name, entry.versions, entry.alias_map)
        self.last_notes = notes
        return notes

    def _name(self, name: str, cid: str, aliases: list[str], new: bool) -> None:
        record = self.names.setdefault(name, NameRecord())
        if cid not in record.versions.values():
            record.versions[next_version(record)] = cid
            record.aliases[LATEST] = cid
        elif new or LATEST not in record.aliases:
            record.aliases.setdefault(LATEST, cid)
        for alias in aliases:
            record.aliases[alias] = cid

    def _sync(self, name: str, versions: dict[int, str], aliases: dict[str, str]) -> list[str]:
        notes: list[str] = []
        record = self.names.setdefault(name, NameRecord())
        for number, cid in sorted(versions.items()):
            if cid not in self.models or cid in record.versions.values():
                continue
            if number in record.versions:
                number = next_version(record)
                notes.append(f"{name}: {cid[:12]} -> version {number}")
            record.versions[number] = cid
        for alias, cid in aliases.items():
            if cid in self.models:
                record.aliases[alias] = cid
        if LATEST not in record.aliases and record.versions:
            record.aliases[LATEST] = record.versions[max(record.versions)]
        self._drop_if_empty(name)
        return notes

    def _drop_if_empty(self, name: str) -> None:
        record = self.names.get(name)
        if record is not None and not record.versions and not record.aliases:
            del self.names[name]

    # --- queries -------------------------------------------------------------------
    def index(self) -> dict[str, tuple[str, int | None, list[str]]]:
        """content id -> (name, version, aliases) for every named model (first name wins)."""
        if self._index is not None and self._index_seq == self.seq:
            return self._index
        index: dict[str, tuple[str, int | None, list[str]]] = {}
        for name in sorted(self.names):
            record = self.names[name]
            by_id: dict[str, tuple[int | None, list[str]]] = {}
            for v, cid in record.versions.items():
                by_id[cid] = (v, by_id.get(cid, (None, []))[1])
            for alias, cid in record.aliases.items():
                version, aliases = by_id.get(cid, (None, []))
                by_id[cid] = (version, sorted([*aliases, alias]))
            for cid, (version, aliases) in by_id.items():
                index.setdefault(cid, (name, version, aliases))
        self._index, self._index_seq = index, self.seq
        return index

    def info(self, cid: str) -> ModelInfo | None:
        summary = self.models.get(cid)
        if summary is None:
            return None
        return info_of(summary, self.index())

    def names_already(self, cid: str, name: str, aliases: list[str]) -> bool:
        """Whether ``cid`` already has a version under ``name`` and these aliases (no-op push/tag)."""
        record = self.names.get(name)
        if cid not in self.models or record is None or cid not in record.versions.values():
            return False
        return LATEST in record.aliases and all(record.aliases.get(a) == cid for a in aliases)

    def version_of(self, name: str, cid: str) -> int | None:
        record = self.names.get(name)
        if record is None:
            return None
        found = [v for v, c in record.versions.items() if c == cid]
        return found[0] if found else None

    # --- checkpoints -----------------------------------------------------------------
    def to_checkpoint(self) -> bytes:
        cp = Checkpoint(
            seq=self.seq,
            models=[self.models[c] for c in sorted(self.models)],
            names={n: NameSnapshot(versions=dict(sorted(r.versions.items())),
                                   aliases=dict(sorted(r.aliases.items())))
                   for n, r in sorted(self.names.items())})
        return cp.model_dump_json().encode()

    @classmethod
    def from_checkpoint(cls, cp: Checkpoint) -> CatalogState:
        return cls(seq=cp.seq, models={m.model_id: m for m in cp.models},
                   names={n: NameRecord(dict(s.versions), dict(s.aliases))
                          for n, s in cp.names.items()})


def info_of(summary: ModelSummary,
            index: dict[str, tuple[str, int | None, list[str]]]) -> ModelInfo:
    name, version, aliases = index.get(summary.model_id, (summary.name, None, []))
    return ModelInfo(model_id=summary.model_id, name=name, version=version,
                     aliases=list(aliases), description=summary.description,
                     medcat_model_id=summary.medcat_model_id, parents=list(summary.parents),
                     created_at=summary.created_at, size=summary.size,
                     metadata=dict(summary.metadata))


@dataclass(frozen=True)
class CatalogStatus:
    """Where a den's catalog stands (for ``medcat-den doctor``)."""

    seq: int
    checkpoint_seq: int
    models: int
    names: int

    @property
    def tail(self) -> int:
        """Entries a fresh reader reads after the checkpoint."""
        return self.seq - self.checkpoint_seq


class Catalog:
    """The catalog of one den: read incrementally, appended lock-free (module docstring)."""

    def __init__(self, backend: StoreBackend, label: str) -> None:
        self.backend = backend
        self.label = label
        self._lock = threading.RLock()
        self._state: CatalogState | None = None
        self._base_seq = 0
        self._hooks: dict[int, Callable[[CatalogState, Entry], None]] = {}

    # --- reading ----------------------------------------------------------------------
    def view(self, fn: Callable[[CatalogState], T]) -> T:
        """``fn`` of the up-to-date state (run under the catalog's lock)."""
        with self._lock:
            return fn(self._refresh())

    def _refresh(self) -> CatalogState:
        if self._state is None:
            self._state = self._load_base()
        if not self._catch_up(self._state):
            # entries after our state were pruned (a newer checkpoint covers them)
            self._state = self._load_base()
            if not self._catch_up(self._state):
                raise IntegrityError(f"the catalog log of {self.label} has a gap after entry "
                                     f"{self._state.seq}; run `medcat-den doctor`")
        return self._state

    def _load_base(self) -> CatalogState:
        keys = [k.key for k in self.backend.list_entries(layout.CATALOG_CHECKPOINTS)]
        seqs = sorted(s for s in map(layout.checkpoint_seq, keys) if s is not None)
        if seqs:
            cp = self._read_model(layout.checkpoint_key(seqs[-1]), Checkpoint)
            self._base_seq = cp.seq
            return CatalogState.from_checkpoint(cp)
        self._base_seq = 0
        first = next(iter(self.backend.list_entries(layout.CATALOG_LOG)), None)
        if first is None:
            legacy = self._upgrade_legacy()
            if legacy is not None:
                return legacy
        return CatalogState()

    def _catch_up(self, state: CatalogState) -> bool:
        """Apply the entries after ``state.seq``; False if some are missing (pruned)."""
        for obj in self.backend.list_entries(layout.CATALOG_LOG,
                                             start_after=layout.log_key(state.seq)):
            seq = layout.log_seq(obj.key)
            if seq is None or seq <= state.seq:
                continue
            if seq != state.seq + 1:
                return False
            entry = self._read_model(obj.key, Entry)
            state.apply(entry)
            state.seq = seq
            hook = self._hooks.pop(seq, None)
            if hook is not None:
                hook(state, entry)
        return True

    def _read_model(self, key: str, cls: type[Any]) -> Any:
        """Parse an immutable catalog object, re-reading (bounded) before calling it corrupt.

        An endpoint that writes objects non-atomically can hand out a torn copy for a
        moment; a cached torn copy is dropped before the re-read.
        """
        for attempt in range(_REREADS):
            try:
                data = self.backend.get_bytes(key)
            except KeyNotFoundError:
                if attempt == _REREADS - 1:
                    raise IntegrityError(f"catalog object {key} of {self.label} vanished while "
                                         "being read") from None
                data = b""
            try:
                return cls.model_validate_json(data)
            except ValidationError as e:
                if attempt == _REREADS - 1:
                    raise IntegrityError(
                        f"catalog object {key} of {self.label} is not valid after "
                        f"{_REREADS} reads: {e.errors()[0].get('msg', e)}") from e
                self.backend.refresh(key)
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    # --- writing -----------------------------------------------------------------------
    def append(self, entry: Entry, observe: Callable[[CatalogState, Entry], T]) -> T:
        """Append ``entry``; return ``observe(state, entry)`` right after it was applied.

        Raises ConcurrentUpdateError if the entry did not land (another writer
        overwrote it: an endpoint ignoring conditional create).
        """
        data = entry.to_bytes()
        result: list[T] = []
        for attempt in range(_APPEND_ATTEMPTS):
            with self._lock:
                state = self._refresh()
                seq = state.seq + 1
                if self.backend.put_bytes_if_absent(layout.log_key(seq), data):

                    def hook(st: CatalogState, landed: Entry, seq: int = seq) -> None:
                        if landed.writer != entry.writer:
                            raise ConcurrentUpdateError(
                                f"catalog entry {seq} of {self.label} was overwritten by "
                                "another writer: this change was lost (the store does not "
                                "honour conditional create)")
                        result.append(observe(st, landed))

                    self._hooks[seq] = hook
                    try:
                        self._refresh()
                    finally:
                        self._hooks.pop(seq, None)
                    if not result:
                        raise ConcurrentUpdateError(
                            f"catalog entry {seq} of {self.label} could not be read back")
                    self._maybe_compact()
                    return result[0]
            time.sleep(min(0.2, 0.002 * 2 ** min(attempt, 7)) * random.random())
        raise ConcurrentUpdateError(
            f"could not append to the catalog of {self.label}: too many concurrent writers")

    def _maybe_compact(self) -> None:
        state = self._state
        if state is None or state.seq - self._base_seq < COMPACT_EVERY:
            return
        try:
            self.backend.put_bytes_if_absent(layout.checkpoint_key(state.seq),
                                             state.to_checkpoint())
            self._base_seq = state.seq
        except DenError as e:  # a later writer compacts instead
            logger.warning("catalog checkpoint %d of %s not written: %s", state.seq,
                           self.label, e)

    def status(self) -> CatalogStatus:
        with self._lock:
            state = self._refresh()
            return CatalogStatus(state.seq, self._base_seq, len(state.models), len(state.names))

    def compact(self) -> int:
        """Write a checkpoint of the current state now; return its sequence number."""
        with self._lock:
            state = self._refresh()
            self.backend.put_bytes_if_absent(layout.checkpoint_key(state.seq),
                                             state.to_checkpoint())
            self._base_seq = state.seq
            return state.seq

    # --- upgrade from the layout before the catalog ------------------------------------------
    def _upgrade_legacy(self) -> CatalogState | None:
        ids = sorted(c for c in map(layout.manifest_id, self.backend.list_keys(layout.MANIFESTS))
                     if c)
        names = sorted(n for n in map(layout.legacy_name_of,
                                      self.backend.list_refs(layout.LEGACY_NAMES)) if n)
        if not ids and not names:
            return None
        logger.info("upgrading %s to the catalog layout (%d models, %d names)", self.label,
                    len(ids), len(names))
        state = CatalogState()

        def summary(cid: str) -> ModelSummary | None:
            try:
                return ModelSummary.of(cid, PackManifest.from_bytes(
                    self.backend.get_bytes(layout.manifest_key(cid)), expected_id=cid))
            except KeyNotFoundError:
                return None
            except IntegrityError as e:
                logger.warning("upgrade of %s: model %s skipped: %s", self.label, cid, e)
                return None

        with ThreadPoolExecutor(max_workers=16) as pool:
            for found in pool.map(summary, ids):
                if found is not None:
                    state.models[found.model_id] = found
        for name in names:
            record = self._read_legacy_name(name)
            versions = {int(v): c for v, c in record.get("versions", {}).items()
                        if c in state.models}
            aliases = {a: c for a, c in record.get("aliases", {}).items() if c in state.models}
            if versions or aliases:
                state.names[name] = NameRecord(versions, aliases)
        try:
            if not self.backend.put_bytes_if_absent(layout.checkpoint_key(0),
                                                    state.to_checkpoint()):
                # another process upgraded first: use its checkpoint
                cp = self._read_model(layout.checkpoint_key(0), Checkpoint)
                return CatalogState.from_checkpoint(cp)
        except DenError as e:
            logger.warning("%s read in the old layout; the upgrade was not written: %s",
                           self.label, e)
        return state

    def _read_legacy_name(self, name: str) -> dict[str, Any]:
        key = layout.legacy_name_key(name)
        for attempt in range(_REREADS):
            got = self.backend.read_ref(key)
            if got is None:
                return {}
            try:
                record = json.loads(got[0])
                if isinstance(record, dict):
                    return record
            except ValueError:
                pass
            if attempt < _REREADS - 1:
                time.sleep(0.05 * 2**attempt)
        raise IntegrityError(f"name ref {name!r} of {self.label} is not valid JSON after "
                             f"{_REREADS} reads")


__all__ = ["COMPACT_EVERY", "Catalog", "CatalogState", "Entry", "ModelSummary", "NameRecord",
           "info_of", "next_version"]

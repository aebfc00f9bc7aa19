"""The catalog on moto: concurrent pushers, request counts at 2,000 models, upgrade in place."""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from medcat_den.cache import BlobCache, CachedBackend, CacheSettings
from medcat_den.den import Den
from medcat_den.den.catalog import COMPACT_EVERY, CatalogState, ModelSummary, NameRecord
from medcat_den.den.model_info import ModelInfo
from medcat_den.pack import layout
from medcat_den.pack.integrity import sha256_bytes
from medcat_den.pack.manifest import FileEntry, PackManifest
from medcat_den.storage.s3 import S3Backend, parse_s3_url
from tests.helpers.packs import variant
from tests.helpers.s3 import S3Server

PUSHERS = 8
MODELS = 2000
NAMES = 20


def test_concurrent_pushers_under_one_name_each_get_their_own_version(
        s3_server: S3Server, s3_url: str, tiny_pack: Path, tmp_path: Path) -> None:
    packs = [variant(tiny_pack, tmp_path, i) for i in range(PUSHERS)]
    go = threading.Barrier(PUSHERS)
    results: dict[int, ModelInfo] = {}
    errors: list[BaseException] = []

    def push(i: int) -> None:
        den = Den(S3Backend(s3_url))  # one den (own client, own catalog) per pusher
        go.wait(timeout=120)
        try:
            results[i] = den.push_model(str(packs[i]), f"pusher {i}", name="shared")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(PUSHERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert sorted(r.version or 0 for r in results.values()) == list(range(1, PUSHERS + 1))
    assert len({r.model_id for r in results.values()}) == PUSHERS
    reader = Den(S3Backend(s3_url))
    for info in results.values():
        assert reader.resolve(f"den://shared/{info.version}") == info.model_id
    assert len(reader.list_available_models(name="shared")) == PUSHERS
    latest = reader.resolve("den://shared")
    assert latest == next(r.model_id for r in results.values() if r.version == PUSHERS)


def _manifests(n: int) -> dict[str, PackManifest]:
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    out: dict[str, PackManifest] = {}
    for i in range(n):
        m = PackManifest(substance=sha256_bytes(f"substance {i}".encode()),
                         files={"cdb/data.dat": FileEntry(blob=sha256_bytes(str(i).encode()),
                                                          size=100 + i)},
                         name=f"m{i % NAMES}", description=f"model {i}",
                         created_at=base + timedelta(seconds=i))
        out[m.content_id] = m
    return out


def _names(ids: list[str], per_name: int) -> dict[str, dict[str, dict[str, str]]]:
    names: dict[str, dict[str, dict[str, str]]] = {}
    for n in range(NAMES):
        mine = ids[n::NAMES][:per_name]  # the rest stay unnamed
        names[f"m{n}"] = {"versions": {str(v + 1): c for v, c in enumerate(mine)},
                          "aliases": {"latest": mine[-1], "prod": mine[len(mine) // 2]}}
    return names


def _write(s3_server: S3Server, s3_url: str, items: list[tuple[str, bytes]]) -> None:
    bucket, prefix = parse_s3_url(s3_url)
    s3_server.put_direct(bucket, [(f"{prefix}/{k}", v) for k, v in items])


def _legacy_den(s3_server: S3Server, s3_url: str, n: int, per_name: int
                ) -> tuple[dict[str, PackManifest], dict[str, dict[str, dict[str, str]]]]:
    """A den in the layout before the catalog: manifests + ``names/<name>.json`` refs."""
    manifests = _manifests(n)
    names = _names(list(manifests), per_name)
    _write(s3_server, s3_url,
           [(f"objects/{layout.manifest_key(c)}", m.to_bytes()) for c, m in manifests.items()]
           + [(f"refs/{layout.legacy_name_key(k)}", json.dumps(r).encode())
              for k, r in names.items()])
    return manifests, names


def test_catalog_of_2000_models_costs_a_bounded_number_of_requests(
        s3_server: S3Server, s3_url: str, tmp_path: Path) -> None:
    manifests = _manifests(MODELS)
    names = _names(list(manifests), MODELS // NAMES - 5)
    state = CatalogState(models={c: ModelSummary.of(c, m) for c, m in manifests.items()},
                         names={n: NameRecord({int(v): c for v, c in r["versions"].items()},
                                              dict(r["aliases"])) for n, r in names.items()})
    _write(s3_server, s3_url,
           [(f"objects/{layout.manifest_key(c)}", m.to_bytes()) for c, m in manifests.items()]
           + [(f"objects/{layout.checkpoint_key(0)}", state.to_checkpoint())])

    # a fresh reader (as a new process): checkpoint listing + checkpoint + log listing
    pages = math.ceil(MODELS / 1000)
    s3_server.reset_counts()
    den = Den(S3Backend(s3_url))
    listed = den.list_available_models()
    assert s3_server.total() <= 3 + pages, s3_server.requests
    assert len(listed) == MODELS
    for op, call in (("info", lambda d: d.info("den://m3@prod")),
                     ("resolve", lambda d: d.resolve("den://m7/40")),
                     ("lineage", lambda d: d.lineage("den://m7/40"))):
        s3_server.reset_counts()
        call(Den(S3Backend(s3_url)))
        assert s3_server.total() <= 5, (op, s3_server.requests)

    # changes after the checkpoint: each costs one more GET until the next checkpoint
    for i in range(3):
        den.tag(f"den://m{i}/1", "reviewed")
    s3_server.reset_counts()
    fresh = Den(S3Backend(s3_url))
    assert "reviewed" in fresh.info("den://m1@reviewed").aliases
    assert s3_server.total() <= 3 + pages + 3 < 3 + COMPACT_EVERY, s3_server.requests

    # through the local cache, immutable catalog objects are read once: listings only
    cache = BlobCache(CacheSettings.from_env({}, path=str(tmp_path / "cache")))
    Den(CachedBackend(S3Backend(s3_url), cache)).list_available_models()
    s3_server.reset_counts()
    again = Den(CachedBackend(S3Backend(s3_url), cache)).list_available_models()
    assert len(again) == MODELS
    assert s3_server.requests["GetObject"] == 0 and s3_server.total() <= 2, s3_server.requests


def test_an_old_layout_den_is_upgraded_in_place_keeping_everything(
        s3_server: S3Server, s3_url: str, tiny_pack: Path) -> None:
    manifests, names = _legacy_den(s3_server, s3_url, 200, 8)
    upgrader = Den(S3Backend(s3_url))
    listed = {m.model_id: m for m in upgrader.list_available_models()}
    assert set(listed) == set(manifests)
    keys = {o.key for o in S3Backend(s3_url).list_entries("catalog/")}
    assert layout.checkpoint_key(0) in keys  # written once, for every later reader
    den = Den(S3Backend(s3_url))
    for name, record in names.items():
        for version, cid in record["versions"].items():
            assert den.resolve(f"den://{name}/{version}") == cid
            assert listed[cid].name == name and listed[cid].version == int(version)
        for alias, cid in record["aliases"].items():
            assert den.resolve(f"den://{name}@{alias}") == cid
            assert alias in listed[cid].aliases
    unnamed = [m for m in listed.values() if m.version is None]
    assert len(unnamed) == 200 - NAMES * 8
    assert all(m.description == manifests[m.model_id].description for m in listed.values())
    # pushing after the upgrade continues the old version numbers
    info = den.push_model(str(tiny_pack), name="m0")
    assert info.version == 9 and den.resolve("den://m0") == info.model_id

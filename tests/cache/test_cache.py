"""The local cache: verified blobs, one download for many fetchers, eviction, pins, offline."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medcat_den.cache import BlobCache, CachedBackend, CacheSettings
from medcat_den.den import Den, get_default_den
from medcat_den.errors import ConfigError, IntegrityError, OfflineError
from medcat_den.pack.layout import blob_key
from medcat_den.storage.local import LocalFolderBackend
from medcat_den.storage.s3 import S3Backend
from tests.helpers.s3 import S3Server


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def put_blob(backend: LocalFolderBackend, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    backend.put_bytes_if_absent(blob_key(sha), data)
    return sha


@pytest.fixture()
def source(tmp_path: Path) -> LocalFolderBackend:
    return LocalFolderBackend(str(tmp_path / "remote"))


def make_cache(tmp_path: Path, clock: Clock, **kw: object) -> BlobCache:
    settings = CacheSettings.from_env({}, path=str(tmp_path / "cache"), **kw)
    return BlobCache(settings, clock=clock, grace_seconds=0)


def test_settings_from_env(tmp_path: Path) -> None:
    s = CacheSettings.from_env({"MEDCAT_DEN_LOCAL_CACHE_PATH": str(tmp_path),
                                "MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE": "1000",
                                "MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME": "60",
                                "MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY": "lfu"})
    assert (s.path, s.max_size, s.expiration_time, s.eviction_policy) == (
        str(tmp_path), 1000, 60, "LFU")
    d = CacheSettings.from_env({})
    assert (d.max_size, d.expiration_time, d.eviction_policy) == (100 * 10**9, 864000, "LRU")
    with pytest.raises(ConfigError, match="LRU, LFU, FIFO"):
        CacheSettings.from_env({"MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY": "random"})
    with pytest.raises(ConfigError, match="MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE"):
        CacheSettings.from_env({"MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE": "lots"})


def test_verified_blobs_only(tmp_path: Path, source: LocalFolderBackend) -> None:
    cache = make_cache(tmp_path, Clock())
    sha = put_blob(source, b"hello")
    path = cache.ensure_blob(source, blob_key(sha), sha, 5)
    assert Path(path).read_bytes() == b"hello" and cache.downloads == 1
    assert cache.ensure_blob(source, blob_key(sha), sha, 5) == path and cache.downloads == 1
    # a remote object whose bytes do not match its name is refused and not cached
    bad = "0" * 64
    source.put_bytes_if_absent(blob_key(bad), b"tampered")
    with pytest.raises(IntegrityError, match="was not cached"):
        cache.ensure_blob(source, blob_key(bad), bad, 8)
    assert cache.cached_path(bad) is None
    assert os.listdir(cache.tmp_dir) == []


@pytest.mark.parametrize("policy,expected_left", [
    ("LRU", {"b", "c"}),   # a was used least recently
    ("LFU", {"a", "c"}),   # b was used least often
    ("FIFO", {"b", "c"}),  # a came first
])
def test_eviction_by_size_and_policy(tmp_path: Path, source: LocalFolderBackend, policy: str,
                                     expected_left: set[str]) -> None:
    clock = Clock()
    cache = make_cache(tmp_path, clock, eviction_policy=policy)
    blobs = {n: put_blob(source, n.encode() * 40_000) for n in "abc"}
    for name in "abc":  # a added first, then b, c
        clock.now += 10
        cache.ensure_blob(source, blob_key(blobs[name]), blobs[name], 40_000)
    for name in ("a", "a", "c"):  # a: used often but not lately; b: once
        clock.now += 10
        cache.ensure_blob(source, blob_key(blobs[name]), blobs[name], 40_000)
    if policy == "LRU":
        clock.now += 10
        cache.ensure_blob(source, blob_key(blobs["b"]), blobs["b"], 40_000)
        expected_left = {"b", "c"}
    overhead = cache.total_size() - 3 * 40_000  # index, metadata: everything counts
    cache.settings = cache.settings.model_copy(update={"max_size": overhead + 2 * 40_000 + 100})
    clock.now += 10
    freed = cache.prune()
    assert freed == 40_000
    left = {n for n, sha in blobs.items() if os.path.exists(cache.blob_path(sha))}
    assert left == expected_left
    assert cache.total_size() <= cache.settings.max_size


def test_expiry_and_pins(tmp_path: Path, source: LocalFolderBackend) -> None:
    clock = Clock()
    cache = make_cache(tmp_path, clock, expiration_time=100)
    old = put_blob(source, b"old" * 100)
    pinned = put_blob(source, b"pinned" * 100)
    fresh = put_blob(source, b"fresh" * 100)
    for sha in (old, pinned):
        cache.ensure_blob(source, blob_key(sha), sha, -1)
    assert cache.pin([pinned]) == 1
    clock.now += 90
    cache.ensure_blob(source, blob_key(fresh), fresh, -1)
    clock.now += 20  # old and pinned unused for 110 s, fresh for 20 s
    cache.prune()
    assert cache.cached_path(old) is None
    assert cache.cached_path(pinned) and cache.cached_path(fresh)
    # pins also survive size eviction and a plain clear
    cache.settings = cache.settings.model_copy(update={"max_size": 0})
    cache.prune()
    assert cache.cached_path(pinned) and cache.cached_path(fresh) is None
    cache.clear()
    assert cache.cached_path(pinned)
    assert cache.unpin([pinned]) == 1
    cache.clear()
    assert cache.entries() == []


def test_eviction_never_pulls_a_model_being_fetched(tmp_path: Path,
                                                    source: LocalFolderBackend) -> None:
    settings = CacheSettings.from_env({}, path=str(tmp_path / "cache"), max_size=1)
    cache = BlobCache(settings)  # default grace: recently used blobs stay
    shas = [put_blob(source, bytes([i]) * 1000) for i in range(3)]
    paths = [cache.ensure_blob(source, blob_key(s), s, 1000) for s in shas]
    assert all(os.path.exists(p) for p in paths)


FETCHER = r"""
import json, os, sys, time
from medcat_den.den import get_default_den
den = get_default_den()
go = sys.argv[1]
open(go + "." + str(os.getpid()), "w").close()  # ready
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no go signal within 120 s")
    time.sleep(0.005)
with den.materialise("den://tiny") as pack:  # a verified pack folder, as fetch_model uses
    files = sorted(os.path.relpath(os.path.join(d, f), pack)
                   for d, _, fs in os.walk(pack) for f in fs)
print(json.dumps({"downloads": den.cache.downloads, "files": files}))
"""


def test_8_concurrent_cold_fetchers_download_once(
    tmp_path: Path, s3_url: str, s3_server: S3Server, tiny_pack: Path
) -> None:
    den = Den(S3Backend(s3_url))
    info = den.push_model(str(tiny_pack), name="tiny")
    blobs = {e.blob for e in den.manifest(info.model_id).files.values()}
    env = {**os.environ, "MEDCAT_DEN_TYPE": "S3", "MEDCAT_DEN_REMOTE_HOST": s3_url,
           "MEDCAT_DEN_LOCAL_CACHE_PATH": str(tmp_path / "shared-cache")}
    env.pop("MEDCAT_DEN_CONFIG", None)
    env.pop("MEDCAT_DEN_PATH", None)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", FETCHER, str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    deadline = time.monotonic() + 120
    while (len(list(tmp_path.glob("go.*"))) < 8 and time.monotonic() < deadline
           and all(p.poll() is None for p in procs)):
        time.sleep(0.05)
    if all(p.poll() is None for p in procs):  # (a fetcher that died is reported below)
        assert len(list(tmp_path.glob("go.*"))) == 8, "the fetchers were not all ready in 120 s"
    s3_server.reset_counts()
    go.touch()  # all 8 start fetching together
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    expected = sorted(den.manifest(info.model_id).files)
    assert all(r["files"] == expected for r in results)
    assert sum(r["downloads"] for r in results) == len(blobs)
    assert s3_server.count("GetObject", "/objects/blobs/") == len(blobs)


def test_offline_serves_from_cache_and_fails_clearly_on_a_miss(
    isolated_env: Path, s3_url: str, s3_server: S3Server, tiny_pack: Path, tiny_pack_b: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDCAT_DEN_TYPE", "S3")
    monkeypatch.delenv("MEDCAT_DEN_PATH")
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_HOST", s3_url)
    online = get_default_den()
    a = online.push_model(str(tiny_pack), name="tiny")
    online.push_model(str(tiny_pack_b), name="other")
    online.fetch_model("den://tiny")  # warms the cache
    monkeypatch.setenv("MEDCAT_DEN_OFFLINE", "1")
    offline = get_default_den()
    s3_server.reset_counts()
    assert isinstance(offline.backend, CachedBackend) and offline.offline
    cat = offline.fetch_model("den://tiny")
    assert "C0024117" in cat.cdb.cui2info
    assert offline.resolve(a.model_id[:12]) == a.model_id
    with pytest.raises(OfflineError, match="MEDCAT_DEN_OFFLINE"):
        offline.fetch_model("den://other")  # never fetched: a clear miss
    with pytest.raises(OfflineError):
        offline.push_model(str(tiny_pack_b), name="new")
    assert sum(s3_server.requests.values()) == 0  # offline never touched the server


def test_cache_cli(isolated_env: Path, s3_url: str, tiny_pack: Path,
                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from medcat_den.cli import cache_cmd

    monkeypatch.setenv("MEDCAT_DEN_TYPE", "S3")
    monkeypatch.delenv("MEDCAT_DEN_PATH")
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_HOST", s3_url)
    den = get_default_den()
    info = den.push_model(str(tiny_pack), name="tiny")
    parser = argparse.ArgumentParser()
    cache_cmd.add_parser(parser.add_subparsers())

    def run(*argv: str) -> str:
        args = parser.parse_args(["cache", *argv])
        assert args.func(args) == 0
        return capsys.readouterr().out

    assert "0 blobs" in run("ls")
    assert "pinned" in run("pin", "den://tiny")
    out = run("ls")
    assert info.model_id[:12] in out and "tiny" in out and "pinned" in out
    run("clear")
    assert "pinned" in run("ls")  # pinned blobs survive clear
    run("unpin", "den://tiny")
    run("prune", "--max-size", "0")
    assert "0 blobs" in run("ls")
    run("pin", "den://tiny")
    run("clear", "--all")
    assert "0 blobs" in run("ls")

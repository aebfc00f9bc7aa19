"""``medcat-den cache ls|prune|pin|unpin|clear``: the local cache of remote dens."""

from __future__ import annotations

import argparse
import glob
import json
import os
from typing import Any

from medcat_den.cache import BlobCache, CacheSettings
from medcat_den.errors import ConfigError
from medcat_den.pack.layout import blob_key


def _cache(args: argparse.Namespace) -> BlobCache:
    overrides: dict[str, Any] = {}
    if getattr(args, "max_size", None) is not None:
        overrides["max_size"] = args.max_size
    if getattr(args, "expiration_time", None) is not None:
        overrides["expiration_time"] = args.expiration_time
    return BlobCache(CacheSettings.from_env(**overrides))


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _cached_models(cache: BlobCache) -> list[tuple[str, str, dict[str, Any]]]:
    """(content id, names, manifest) for every manifest the cache keeps."""
    out = []
    for ns in sorted(glob.glob(os.path.join(cache.root, "meta", "*"))):
        names: dict[str, list[str]] = {}
        for ref in glob.glob(os.path.join(ns, "refs", "names", "*.json")):
            name = os.path.basename(ref)[: -len(".json")]
            try:
                with open(ref, encoding="utf-8") as f:
                    record = json.load(f)
            except (OSError, ValueError):
                continue
            for version, cid in record.get("versions", {}).items():
                names.setdefault(cid, []).append(f"{name}/{version}")
            for alias, cid in record.get("aliases", {}).items():
                names.setdefault(cid, []).append(f"{name}@{alias}")
        for path in sorted(glob.glob(os.path.join(ns, "objects", "manifests", "*.json"))):
            cid = os.path.basename(path)[: -len(".json")]
            try:
                with open(path, encoding="utf-8") as f:
                    manifest = json.load(f)
            except (OSError, ValueError):
                continue
            out.append((cid, ", ".join(sorted(names.get(cid, []))), manifest))
    return out


def cmd_ls(args: argparse.Namespace) -> int:
    cache = _cache(args)
    entries = {e.sha: e for e in cache.entries()}
    s = cache.settings
    print(f"cache {cache.root}: {len(entries)} blobs, {_human(cache.total_size())} of "
          f"{_human(s.max_size)} max, {s.eviction_policy}, entries expire after "
          f"{s.expiration_time:.0f}s unused")
    for cid, names, manifest in _cached_models(cache):
        files = manifest.get("files", {})
        total = sum(int(f.get("size", 0)) for f in files.values())
        blobs = {f.get("blob") for f in files.values()}
        cached = sum(int(f.get("size", 0)) for f in files.values() if f.get("blob") in entries)
        pinned = bool(blobs) and all(b in entries and entries[b].pinned for b in blobs)
        print(f"  {cid[:12]}  {names or manifest.get('name') or '-'}  "
              f"{_human(cached)}/{_human(total)} cached{'  pinned' if pinned else ''}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    cache = _cache(args)
    freed = cache.prune()
    print(f"freed {_human(freed)}; cache now holds {_human(cache.total_size())}")
    return 0


def _den_blobs(args: argparse.Namespace) -> tuple[Any, list[tuple[str, int]], str]:
    from medcat_den.cli.common import den_from_args

    den = den_from_args(args)
    ref = args.ref
    if den.cache is None:
        raise ConfigError(f"{den!r} is a local den: its models are not cached")
    cid = den.resolve(ref)
    manifest = den.manifest(cid)
    return den, sorted({(e.blob, e.size) for e in manifest.files.values()}), cid


def cmd_pin(args: argparse.Namespace) -> int:
    den, blobs, cid = _den_blobs(args)
    cache: BlobCache = den.cache
    for sha, _size in blobs:  # pinning fetches what is missing (into the cache)
        den.backend.local_path(blob_key(sha))
    n = cache.pin(sha for sha, _ in blobs)
    print(f"pinned {n} blobs of model {cid[:12]}")
    return 0


def cmd_unpin(args: argparse.Namespace) -> int:
    den, blobs, cid = _den_blobs(args)
    n = den.cache.unpin(sha for sha, _ in blobs)
    print(f"unpinned {n} blobs of model {cid[:12]}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    cache = _cache(args)
    freed = cache.clear(include_pinned=args.all)
    print(f"freed {_human(freed)}" + ("" if args.all else " (pinned blobs kept; --all removes "
                                                          "them too)"))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("cache", help="inspect and manage the local cache of remote dens")
    sub = p.add_subparsers(dest="cache_command", required=True)
    ls = sub.add_parser("ls", help="cached models and blobs, size and limits")
    ls.set_defaults(func=cmd_ls)
    prune = sub.add_parser("prune", help="remove expired entries and evict down to the max size")
    prune.add_argument("--max-size", type=int, default=None,
                       help="bytes (default MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE)")
    prune.add_argument("--expiration-time", type=float, default=None,
                       help="seconds (default MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME)")
    prune.set_defaults(func=cmd_prune)
    pin = sub.add_parser("pin", help="fetch a model's blobs and keep them from eviction")
    pin.add_argument("ref", help="den://name[@alias|/version] or a content id (prefix)")
    pin.set_defaults(func=cmd_pin)
    unpin = sub.add_parser("unpin", help="let a model's blobs be evicted again")
    unpin.add_argument("ref")
    unpin.set_defaults(func=cmd_unpin)
    clear = sub.add_parser("clear", help="remove every cached blob (pinned ones with --all)")
    clear.add_argument("--all", action="store_true", help="also remove pinned blobs")
    clear.set_defaults(func=cmd_clear)

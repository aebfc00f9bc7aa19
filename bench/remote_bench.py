"""Remote den benchmark: one run against a real S3 API (moto's server, in its own process).

    .venv/bin/python bench/remote_bench.py [--pack PACK_FOLDER] [--vocab-words N] [--repeats R]
        [--catalog-sizes 10,1000,10000] [--baseline-src /work/main] [--catalog-only]

Catalog part: for each size, a den in the layout before the catalog (manifests +
name refs, written straight with boto3) is read by the code at ``--baseline-src``
(today's code, if given and present) and by this code (the first read upgrades it
in place; then fresh dens, as new processes would be): requests (counted with a
boto3 event hook) and seconds of ``list_available_models()`` and ``info(ref)``.

Pack part, prints, all measured in this run:
  * cold fetch from S3 (empty cache) / fetch from a local den;
  * warm cached fetch from S3 / raw ``CAT.load_model_pack`` of the pack folder (target <= 1.05);
  * bytes uploaded by a derivative push (one concept added) / full pack size.

The default pack is built from the NCBI-disease concepts plus a Vocab of N random
300-d word vectors, so it has one large file a derivative leaves unchanged, as
real packs do.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import SHARED, alternate, dir_size, free_port, print_table, timed


def build_pack(out: Path, vocab_words: int) -> str:
    import numpy as np
    import pandas as pd
    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    out.mkdir(parents=True, exist_ok=True)
    df = pd.read_csv(SHARED / "concepts.csv")
    csv_path = out / "concepts.csv"
    df[["cui", "name"]].to_csv(csv_path, index=False)
    cdb = CDBMaker(Config()).prepare_csvs([str(csv_path)])
    vocab = Vocab()
    rng = np.random.default_rng(0)
    for i in range(vocab_words):
        vocab.add_word(f"word{i}", cnt=int(rng.integers(1, 1000)),
                       vec=rng.standard_normal(300).astype(np.float32))
    cat = CAT(cdb, vocab=vocab)
    return str(cat.save_model_pack(str(out), pack_name="bench", make_archive=False,
                                   add_hash_to_pack_name=False))


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def object_sizes(client: Any, bucket: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = int(obj["Size"])
    return out


# Run in a subprocess with PYTHONPATH set to the code under test: prints one JSON line.
MEASURE = r"""
import json, statistics, sys, time
from medcat_den.den import Den
from medcat_den.storage.s3 import S3Backend
url, repeats = sys.argv[1], int(sys.argv[2])
def fresh():
    backend = S3Backend(url)
    counter = {"n": 0}
    def count(**_kw):
        counter["n"] += 1
    backend.client.meta.events.register("before-send.s3", count)
    return Den(backend), counter
out = {}
den, counter = fresh()
start = time.perf_counter()
n = len(den.list_available_models())
out["first_list"] = [time.perf_counter() - start, counter["n"], n]
for op, call in (("list", lambda d: d.list_available_models()),
                 ("info", lambda d: d.info("den://m3@prod"))):
    runs = []
    for _ in range(repeats):
        den, counter = fresh()
        start = time.perf_counter()
        call(den)
        runs.append((time.perf_counter() - start, counter["n"]))
    out[op] = [statistics.median(r[0] for r in runs), max(r[1] for r in runs)]
print(json.dumps(out))
"""


def legacy_den(client: Any, bucket: str, n: int) -> None:
    """A den of ``n`` models in the layout before the catalog, written straight with boto3."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime, timedelta, timezone

    from medcat_den.pack import layout
    from medcat_den.pack.integrity import sha256_bytes
    from medcat_den.pack.manifest import FileEntry, PackManifest

    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    names = 20 if n >= 20 else 1
    ids: list[str] = []
    work: list[tuple[str, bytes]] = []
    for i in range(n):
        m = PackManifest(substance=sha256_bytes(f"s{i}".encode()),
                         files={"cdb/data.dat": FileEntry(blob=sha256_bytes(str(i).encode()),
                                                          size=1000 + i)},
                         name=f"m{i % names}", description=f"model {i}",
                         created_at=base + timedelta(seconds=i))
        ids.append(m.content_id)
        work.append((f"den/objects/{layout.manifest_key(m.content_id)}", m.to_bytes()))
    for k in range(names):
        mine = ids[k::names]
        record = {"versions": {str(v + 1): c for v, c in enumerate(mine)},
                  "aliases": {"latest": mine[-1], "prod": mine[0]}}
        work.append((f"den/refs/{layout.legacy_name_key(f'm{k}')}",
                     json.dumps(record).encode()))
    if names == 1:  # so that den://m3@prod exists at every size
        work.append((f"den/refs/{layout.legacy_name_key('m3')}", json.dumps(
            {"versions": {"1": ids[0]}, "aliases": {"latest": ids[0], "prod": ids[0]}}
        ).encode()))
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda kv: client.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]),
                      work))


def measure(src: str, url: str, repeats: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, "-c", MEASURE, url, str(repeats)], env=env,
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"measuring {src} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def catalog_bench(client: Any, sizes: list[int], baseline: str | None, repeats: int) -> None:
    here = str(Path(__file__).resolve().parents[1])
    rows: list[tuple[str, str, str]] = []
    for n in sizes:
        bucket = f"cat-{n}-{uuid.uuid4().hex[:6]}"
        client.create_bucket(Bucket=bucket)
        t_build, _ = timed(lambda b=bucket, n=n: legacy_den(client, b, n))
        url = f"s3://{bucket}/den"
        old = measure(baseline, url, 1 if n > 1000 else repeats) if baseline else None
        new = measure(here, url, repeats)  # its first list upgrades the den in place
        up_s, up_req, listed = new["first_list"]
        assert listed == n, f"listed {listed} of {n} models"
        for op in ("list", "info"):
            s_new, r_new = new[op]
            today = (f"today {old[op][1]} req, {old[op][0]:.2f}s; "
                     f"x{old[op][0] / max(s_new, 1e-9):.0f} faster") if old else "today n/a"
            rows.append((f"{op} @ {n} models", f"{r_new} req, {s_new:.3f}s", today))
        rows.append((f"one-time upgrade @ {n} models", f"{up_req} req, {up_s:.2f}s",
                     f"(den written in {t_build:.1f}s)"))
    print("catalog (moto on loopback, fresh den per call = a new process; median of "
          f"{repeats}, today's list at > 1,000 models run once):")
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", help="pack folder (default: NCBI concepts + random vocab)")
    parser.add_argument("--vocab-words", type=int, default=30000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--catalog-sizes", default="10,1000,10000")
    parser.add_argument("--baseline-src", default="/work/main",
                        help="source tree of today's code for the catalog comparison")
    parser.add_argument("--catalog-only", action="store_true")
    args = parser.parse_args()

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    import boto3
    from medcat.cat import CAT

    from medcat_den.cache import BlobCache, CachedBackend, CacheSettings
    from medcat_den.den import Den
    from medcat_den.den.policies import RemotePolicy
    from medcat_den.storage.local import LocalFolderBackend
    from medcat_den.storage.s3 import S3Backend

    moto, endpoint = start_moto()
    tmp = Path(tempfile.mkdtemp(prefix="remote-bench-"))
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        client = boto3.client("s3")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        url = f"s3://{bucket}/den"
        baseline = args.baseline_src if os.path.isdir(
            os.path.join(args.baseline_src, "medcat_den")) else None
        catalog_bench(client, [int(x) for x in args.catalog_sizes.split(",") if x], baseline,
                      args.repeats)
        if args.catalog_only:
            return
        pack = args.pack or build_pack(tmp / "pack", args.vocab_words)
        size = dir_size(pack)
        print(f"pack: {pack} ({size / 1e6:.1f} MB); S3: moto server at {endpoint} "
              "(separate process)")

        def s3_den(cache_dir: Path, policy: RemotePolicy | None = None) -> Den:
            cache = BlobCache(CacheSettings.from_env({}, path=str(cache_dir)))
            return Den(CachedBackend(S3Backend(url), cache), cache=cache,
                       policy=policy or RemotePolicy(False, False))

        local = Den(LocalFolderBackend(str(tmp / "local")))
        local.push_model(pack, name="bench")
        t_push, _ = timed(lambda: s3_den(tmp / "c0").push_model(pack, name="bench"))

        counter = iter(range(10**6))

        def cold() -> Any:
            d = tmp / f"cold{next(counter)}"
            cat = s3_den(d).fetch_model("den://bench")
            shutil.rmtree(d, ignore_errors=True)
            return cat

        t_cold, t_local, best_cold = alternate(cold, lambda: local.fetch_model("den://bench"),
                                    args.repeats)
        warm_den = s3_den(tmp / "warm")
        warm_den.fetch_model("den://bench")
        t_warm, t_raw, best_warm = alternate(lambda: warm_den.fetch_model("den://bench"),
                                  lambda: CAT.load_model_pack(pack), args.repeats)

        # derivative: fetch, add one concept, push back (both allowed by policy here)
        allow = RemotePolicy(allow_push_finetuned=True, allow_local_fine_tune=True)
        tuned_den = s3_den(tmp / "tuned", allow)
        cat = tuned_den.fetch_model("den://bench")
        cat.trainer.add_and_train_concept("C_BENCH_NEW", "benchmark new concept")
        before = object_sizes(client, bucket)
        t_derive, info = timed(lambda: tuned_den.push_model(cat, "one concept added"))
        after = object_sizes(client, bucket)
        uploaded = sum(s for k, s in after.items() if k not in before)
        assert info.parents, "the derivative should name its parent"

        print(f"median of {args.repeats} alternating runs each (best-of-{args.repeats} ratio too):")
        print_table([
            ("cold fetch S3 / local den fetch", f"{t_cold / t_local:.2f}",
             f"({t_cold:.2f}s / {t_local:.2f}s; best-of ratio {best_cold:.2f})"),
            ("warm cached fetch / raw load_model_pack", f"{t_warm / t_raw:.3f}",
             f"({t_warm:.2f}s / {t_raw:.2f}s; best-of ratio {best_warm:.3f}; target <= 1.05)"),
            ("derivative push bytes / full pack", f"{uploaded / size:.4f}",
             f"({uploaded} B / {size} B; push {t_derive:.2f}s)"),
            ("first push to S3", f"{t_push:.2f}s", ""),
        ])
    finally:
        moto.kill()
        moto.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

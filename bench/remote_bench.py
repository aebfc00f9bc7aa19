"""Remote den benchmark: one run against a real S3 API (moto's server, in its own process).

    .venv/bin/python bench/remote_bench.py [--pack PACK_FOLDER] [--vocab-words N] [--repeats R]

Prints, all measured in this run:
  * cold fetch from S3 (empty cache) / fetch from a local den;
  * warm cached fetch from S3 / raw ``CAT.load_model_pack`` of the pack folder (target <= 1.05);
  * bytes uploaded by a derivative push (one concept added) / full pack size.

The default pack is built from the NCBI-disease concepts plus a Vocab of N random
300-d word vectors, so it has one large file a derivative leaves unchanged, as
real packs do.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", help="pack folder (default: NCBI concepts + random vocab)")
    parser.add_argument("--vocab-words", type=int, default=30000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    import boto3
    from medcat.cat import CAT

    from medcat_den.cache import BlobCache, CachedBackend, CacheSettings
    from medcat_den.den import Den
    from medcat_den.den.policies import RemotePolicy
    from medcat_den.store.local import LocalFolderBackend
    from medcat_den.store.s3 import S3Backend

    moto, endpoint = start_moto()
    tmp = Path(tempfile.mkdtemp(prefix="remote-bench-"))
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        client = boto3.client("s3")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        url = f"s3://{bucket}/den"
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

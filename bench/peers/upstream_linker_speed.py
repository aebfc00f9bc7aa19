"""Speed / memory of the upstream medcat-embedding-linker 0.4.0 (peer for issue 3's linker_bench).

Run with the peer venv (see bench/setup_peers.sh):

    bench/.venv-upstream-linker/bin/python bench/peers/upstream_linker_speed.py \
        --concepts ../shared/data/ncbi-disease/concepts.csv \
        --train ../shared/data/ncbi-disease/train.json \
        --data ../shared/data/ncbi-disease/devel.json [--train-docs 60] [--names 1000000]

Measures, on CPU unless CUDA is present, with the upstream code paths:
  train_mentions_per_s  mentions / s through ``cat.trainer.train_supervised_raw`` of the trainable
                        linker (defaults: projection layer, frozen LM, batch 32; CPU autocast
                        disabled, see _upstream_common.cpu_autocast_disabled) on the first
                        --train-docs documents of --train; one warm-up document first
  infer_docs_per_s      devel documents / s through ``cat.get_entities`` (static linker pack)
  names_per_s           names / s through ``ContextModel.embed_names()`` (all CDB names)
  raw_names_per_s       the same names through a plain batched MiniLM forward pass (tokenizer +
                        AutoModel + mean pooling, batch 256, max_length 64) in the same process
  link_1m_peak_extra_mb peak RSS increase to link 64 mentions against --names random fp16 name
                        embeddings: ``Linker._generate_link_candidates`` (matmul + full argsort
                        over all names, the upstream's candidate path) followed by
                        ``Linker._inference``; measured in a child process (psutil sampling +
                        ru_maxrss) after the matrix is allocated
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def _entities_doc(u: Any, cat: Any, export: dict[str, Any], n: int) -> tuple[Any, list[Any]]:
    """One document (devel texts joined) run through the pipeline; its first n NER entities."""
    texts = []
    for doc in u.iter_docs(export):
        texts.append(doc["text"])
        mdoc = cat(" ".join(texts))
        if mdoc is not None and len(mdoc.ner_ents) >= n:
            return mdoc, list(mdoc.ner_ents[:n])
    raise SystemExit(f"devel has fewer than {n} NER entities")


def memory_child(args: argparse.Namespace) -> dict[str, Any]:
    import psutil
    import torch

    sys.path.insert(0, HERE)
    import _upstream_common as u

    torch.set_num_threads(args.threads)
    u.seed_everything(0)
    cat = u.build_cat(args.concepts, u.STATIC)
    linker = u.get_linker(cat)
    devel = u.load_export(args.data)
    doc, ents = _entities_doc(u, cat, devel, args.mentions)
    linker._set_filters()
    # Keep the CDB's real name strings (the candidate loop looks names up in name2info), cycled to
    # the requested count, with random unit-norm fp16 embeddings built chunk-wise so that the
    # setup itself never peaks above the measured step.
    real = list(linker._name_keys)
    n = args.names
    dim = linker.names_context_matrix.shape[1]
    gen = torch.Generator().manual_seed(0)
    mat = torch.empty((n, dim), dtype=torch.float16)
    for i in range(0, n, 65536):
        block = torch.randn((min(65536, n - i), dim), generator=gen)
        mat[i:i + block.shape[0]] = torch.nn.functional.normalize(block, dim=1).half()
        del block
    linker._names_context_matrix = mat
    linker._name_keys = [real[i % len(real)] for i in range(n)]
    linker._valid_names = torch.ones(n, dtype=torch.bool)
    with torch.no_grad():
        linker._get_context_vectors(doc, ents, 0)  # warm the model / thread pools
    proc = psutil.Process()
    import gc

    gc.collect()
    rss0 = proc.memory_info().rss
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = [rss0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    with torch.no_grad():
        linker._generate_link_candidates(doc, ents)
        linked = list(linker._inference(doc, [e for e in ents if e.link_candidates]))
    link_s = time.perf_counter() - t0
    stop.set()
    th.join()
    maxrss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # ru_maxrss is exact but covers the whole process: trust it only when the step set a new high;
    # otherwise fall back to the 2 ms psutil samples.
    if maxrss1 > maxrss0:
        peak_bytes, source = max(peak[0], maxrss1), "ru_maxrss"
    else:
        peak_bytes, source = peak[0], "psutil-sampled"
    return {
        "link_names": n, "link_mentions": len(ents), "linked": len(linked), "dim": dim,
        "matrix_mb": round(mat.numel() * mat.element_size() / 2**20, 1),
        "link_1m_s": round(link_s, 3),
        "link_1m_peak_extra_mb": round((peak_bytes - rss0) / 2**20, 1),
        "link_peak_source": source,
    }


def raw_names_per_s(names: list[str], model_path: str, batch: int = 256) -> float:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    with torch.no_grad():
        enc = tok(names[:8], padding=True, truncation=True, max_length=64, return_tensors="pt")
        model(**enc)
        t0 = time.perf_counter()
        for i in range(0, len(names), batch):
            enc = tok(names[i:i + batch], padding=True, truncation=True, max_length=64,
                      return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            torch.nn.functional.normalize(pooled, dim=1)
        return len(names) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description="upstream embedding linker speed / memory")
    ap.add_argument("--concepts", required=True)
    ap.add_argument("--data", required=True, help="devel export (inference docs/s; mentions)")
    ap.add_argument("--train", help="train export (training mentions/s); skipped when absent")
    ap.add_argument("--train-docs", type=int, default=60)
    ap.add_argument("--names", type=int, default=1_000_000)
    ap.add_argument("--mentions", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, PYTHONHASHSEED="0"))
    if args.memory_child:
        print(json.dumps(memory_child(args)))
        return 0

    sys.path.insert(0, HERE)
    import _upstream_common as u
    import torch

    torch.set_num_threads(args.threads)
    out: dict[str, Any] = {"peer": "medcat-embedding-linker 0.4.0", "threads": args.threads,
                           "device": "cuda" if torch.cuda.is_available() else "cpu"}
    devel = u.load_export(args.data)

    # inference docs/s + names embedded/s: static pack
    cat = u.build_cat(args.concepts, u.STATIC)
    linker = u.get_linker(cat)
    docs = list(u.iter_docs(devel))
    cat.get_entities(docs[0]["text"])
    t0 = time.perf_counter()
    for doc in docs:
        cat.get_entities(doc["text"])
    out["infer_docs"] = len(docs)
    out["infer_docs_per_s"] = round(len(docs) / (time.perf_counter() - t0), 2)

    names = list(linker._name_keys)
    t0 = time.perf_counter()
    linker.context_model.embed_names()
    out["names"] = len(names)
    out["names_per_s"] = round(len(names) / (time.perf_counter() - t0), 1)
    seps = [n.replace(cat.config.general.separator, " ") for n in names]
    out["raw_names_per_s"] = round(raw_names_per_s(seps, u.default_model_path()), 1)
    out["names_vs_raw"] = round(out["names_per_s"] / out["raw_names_per_s"], 3)
    del cat, linker

    if args.train:
        train = u.load_export(args.train)
        tdocs = list(u.iter_docs(train))[: args.train_docs + 1]
        warm = {"projects": [{"name": "warm", "id": 0, "cuis": "", "tuis": "",
                              "documents": tdocs[:1]}]}
        subset = {"projects": [{"name": "bench", "id": 0, "cuis": "", "tuis": "",
                                "documents": tdocs[1:]}]}
        u.seed_everything(0)
        cat = u.build_cat(args.concepts, u.TRAINABLE)
        tlinker = u.get_linker(cat)
        with u.cpu_autocast_disabled():
            cat.trainer.train_supervised_raw(warm, nepochs=1, disable_progress=True)
            t0 = time.perf_counter()
            cat.trainer.train_supervised_raw(subset, nepochs=1, disable_progress=True)
            tlinker._train_on_batch()
            dt = time.perf_counter() - t0
        n_m = u.count_mentions(subset)
        out["train_docs"] = len(tdocs) - 1
        out["train_mentions"] = n_m
        out["train_mentions_per_s"] = round(n_m / dt, 2)
        del cat, tlinker

    if not args.skip_memory:
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-child",
               "--concepts", args.concepts, "--data", args.data, "--names", str(args.names),
               "--mentions", str(args.mentions), "--threads", str(args.threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
        if res.returncode != 0 or not lines:
            out["memory_error"] = (res.stderr or res.stdout)[-800:]
        else:
            out.update(json.loads(lines[-1]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embedding-linker benchmark: medcat_den.linking vs medcat-embedding-linker 0.4.0, one run.

    .venv/bin/python bench/linker_bench.py [--train-docs 60] [--epochs 3] [--infer-docs 100]
                                           [--names 1000000] [--threads 2] [--json]

Prints, measured in this run on the same machine, concepts (NCBI concepts.csv), data and
model (the local all-MiniLM-L6-v2):

1. training mentions/s: ``fit`` (ours) vs ``cat.trainer.train_supervised_raw`` (upstream,
   per-epoch recipe + re-embedding), same documents and epochs       (target >= 2x)
2. inference docs/s on devel with the trained packs: ours at its defaults (one encoder pass
   per document, shared by the tagger and every mention), without the tagger, with one
   pass per candidate window at the upstream's window (14), and with MedCAT's own token
   normaliser (the upstream pack's; ours remembers or skips its spell-check work), vs upstream with
   ``use_pre_inference=False`` (it then embeds every mention, like ours) (target >= 1.5x),
   and vs upstream defaults (it then embeds only mentions with several candidate CUIs: a
   dictionary linker for the rest) (target >= 0.45x)
3. names embedded/s: ``ContextModel.embed_names`` vs a raw batched MiniLM forward  (>= 0.9)
4. peak extra memory to link 64 mentions against N random name embeddings: our chunked
   top-k vs the upstream ``Linker._generate_link_candidates`` (argsort)   (target <= 1.5 GB)

Every measurement runs in its own subprocess (``--part``), so peak RSS is per measurement.
The upstream side runs with ``bench/.venv-upstream-linker/bin/python`` (create it with
``bash bench/setup_peers.sh upstream-linker``) and reuses ``bench/peers/_upstream_common.py``
(pack recipe, CPU autocast work-around). Without that venv the upstream columns say so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.environ.get("NCBI_DIR", os.path.join(os.path.dirname(ROOT), "shared", "data",
                                               "ncbi-disease"))
UPSTREAM_PY = os.path.join(HERE, ".venv-upstream-linker", "bin", "python")
UPSTREAM_WINDOW = 14  # medcat-embedding-linker 0.4.0's default context_window_size
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MEDCAT_DISABLE_VERSION_CHECK": "true",
       "TQDM_DISABLE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _subset(export: dict[str, Any], n: int) -> dict[str, Any]:
    docs = [d for p in export["projects"] for d in p["documents"]][:n]
    return {"projects": [{"name": "subset", "documents": docs}]}


def _mentions(export: dict[str, Any]) -> int:
    return sum(1 for p in export["projects"] for d in p["documents"] for a in d["annotations"]
               if not (a.get("deleted") or a.get("killed") or a.get("correct") is False))


def _load(name: str) -> dict[str, Any]:
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_extra_mb(fn: Any) -> tuple[float, float, Any]:
    """(extra peak RSS in MB over the RSS before the call, seconds, result) of ``fn()``."""
    import threading

    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    out = fn()
    secs = time.perf_counter() - t
    done.set()
    th.join()
    peak[0] = max(peak[0], _rss_mb())
    return peak[0] - base, secs, out


def _random_names(n: int, dim: int = 384) -> Any:
    """Unit-norm random float16 rows, generated in chunks (no big temporary)."""
    import torch

    g = torch.Generator().manual_seed(0)
    out = torch.empty(n, dim, dtype=torch.float16)
    for i in range(0, n, 65536):
        block = torch.randn(min(65536, n - i), dim, generator=g)
        out[i:i + block.shape[0]] = torch.nn.functional.normalize(block, dim=-1).half()
    return out


# --------------------------------------------------------------------------- workers
def part_train_ours(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    from medcat_den.linking.builder import build_cat, get_linker

    train = _subset(_load("train.json"), args.train_docs)
    cat = build_cat(os.path.join(DATA, "concepts.csv"), trainable=True)
    linker = get_linker(cat)
    t = time.perf_counter()
    linker.fit(train, epochs=args.epochs)
    train_s = time.perf_counter() - t
    os.makedirs(args.workdir, exist_ok=True)
    cat.save_model_pack(args.workdir, pack_name="ours", make_archive=False,
                        add_hash_to_pack_name=False)
    return {"train_mentions_per_s": _mentions(train) * args.epochs / train_s, "train_s": train_s}


def _strict_f1(cat: Any, export: dict[str, Any]) -> dict[str, float]:
    """The one scorer for both sides: our ``span_metrics`` over ``cat.get_entities`` output
    (strict: same doc, start, end, CUI; every prediction counts). Loaded by file path so
    the upstream's venv, which lacks medcat_den's dependencies, runs the same code."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_den_span_metrics", os.path.join(ROOT, "medcat_den", "linking", "evaluate.py"))
    assert spec is not None and spec.loader is not None
    src = open(spec.origin or "", encoding="utf-8").read()
    ns: dict[str, Any] = {}
    # only the pure-python metric (the module's imports pull in medcat_den itself)
    body = src[src.index("Span = "):src.index("def evaluate(")]
    exec(compile("from collections import Counter, defaultdict\n"
                 "from collections.abc import Iterable\n" + body, "span_metrics", "exec"), ns)
    gold, pred = [], []
    docs = [d for p in export["projects"] for d in p["documents"]]
    for i, d in enumerate(docs):
        gold += [(i, a["start"], a["end"], a["cui"]) for a in d.get("annotations", [])]
        pred += [(i, int(e["start"]), int(e["end"]), str(e["cui"]))
                 for e in cat.get_entities(d["text"])["entities"].values()]
    m: dict[str, float] = ns["span_metrics"](gold, pred)
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"]}


def _time_docs(cat: Any, texts: list[str]) -> float:
    cat(texts[0])  # warm-up
    t = time.perf_counter()
    for text in texts:
        cat(text)
    return len(texts) / (time.perf_counter() - t)


def part_infer_ours(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    from medcat.cat import CAT
    from medcat.components.types import CoreComponentType

    from medcat_den.linking.builder import get_linker

    devel = _subset(_load("devel.json"), args.infer_docs)
    texts = [d["text"] for p in devel["projects"] for d in p["documents"]]
    cat = CAT.load_model_pack(os.path.join(args.workdir, "ours"))
    cnf = cat.config.components.linking
    window = cnf.context_window_size
    out: dict[str, Any] = {"normaliser": type(cat.pipe.get_component(
                               CoreComponentType.token_normalizing)).__name__,
                           "docs_per_s": _time_docs(cat, texts),
                           "encoder_dtype": cnf.encoder_dtype,
                           "mention_encoding": "document" if get_linker(cat).encodes_documents()
                           else "window",
                           "window": cnf.context_window_size, "f1": _strict_f1(cat, devel)["f1"]}
    # where the time goes: the same pack without the tagger's LSTM (same document pass),
    # and with one encoder pass per candidate window (the upstream's way, its window)
    cnf.use_tagger, cnf.mention_encoding = False, "document"
    out["docs_per_s_no_tagger"] = _time_docs(cat, texts)
    out["f1_no_tagger"] = _strict_f1(cat, devel)["f1"]
    cnf.use_tagger, cnf.mention_encoding = True, "window"
    cnf.context_window_size = UPSTREAM_WINDOW
    out["docs_per_s_upstream_window"] = _time_docs(cat, texts)
    out["f1_upstream_window"] = _strict_f1(cat, devel)["f1"]
    # the defaults again with MedCAT's own token normaliser (the upstream pack's), in place of
    # the one build_cat gives our packs (same output, spell-check work remembered or skipped)
    cnf.use_tagger, cnf.mention_encoding = True, "auto"
    cnf.context_window_size = window
    out["docs_per_s_medcat_normaliser"] = _time_docs(_with_medcat_normaliser(cat), texts)
    out["f1_medcat_normaliser"] = _strict_f1(cat, devel)["f1"]
    return out


def _with_medcat_normaliser(cat: Any) -> Any:
    from medcat.components.normalizing.normalizer import TokenNormalizer
    from medcat.components.types import CoreComponentType

    comps = cat.pipe._components
    i = next(i for i, c in enumerate(comps)
             if c.get_type() is CoreComponentType.token_normalizing)
    comps[i] = TokenNormalizer(cat.pipe.tokenizer, cat.config, cat.cdb.token_counts, cat.vocab)
    return cat


def part_train_upstream(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, os.path.join(HERE, "peers"))
    import _upstream_common as up  # type: ignore[import-not-found]

    up.seed_everything(0)
    train = _subset(_load("train.json"), args.train_docs)
    cat = up.build_cat(os.path.join(DATA, "concepts.csv"), up.TRAINABLE)
    linker = up.get_linker(cat)
    t = time.perf_counter()
    with up.cpu_autocast_disabled():
        for _ in range(args.epochs):
            cat.trainer.train_supervised_raw(train, test_size=0, nepochs=1,
                                             disable_progress=True)
            linker.refresh_structure()
            linker.create_embeddings()
    train_s = time.perf_counter() - t
    return {"train_mentions_per_s": _mentions(train) * args.epochs / train_s, "train_s": train_s}


def part_infer_upstream(args: argparse.Namespace) -> dict[str, Any]:
    """Upstream static pack (inference cost equals the trained one's: a linear projection)."""
    sys.path.insert(0, os.path.join(HERE, "peers"))
    import _upstream_common as up

    devel = _subset(_load("devel.json"), args.infer_docs)
    texts = [d["text"] for p in devel["projects"] for d in p["documents"]]
    cat = up.build_cat(os.path.join(DATA, "concepts.csv"), up.STATIC)
    linker = up.get_linker(cat)
    out = {}
    for label, pre in (("default", True), ("embed_all", False)):
        linker.cnf_l.use_pre_inference = pre
        out[f"docs_per_s_{label}"] = _time_docs(cat, texts)
        out[f"f1_{label}"] = _strict_f1(cat, devel)["f1"]
    return out


def part_names(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    import csv

    import torch
    from transformers import AutoModel, AutoTokenizer

    from medcat_den.linking.config import EmbeddingLinkingConfig
    from medcat_den.linking.context_model import ContextModel
    from medcat_den.linking.model_ref import ModelRef, minilm_path

    with open(os.path.join(DATA, "concepts.csv"), encoding="utf-8") as f:
        names = [r["name"] for r in csv.DictReader(f)] * args.name_repeats
    cnf = EmbeddingLinkingConfig()
    cm = ContextModel(ModelRef.from_name("all-MiniLM-L6-v2"), cnf)
    tok = AutoTokenizer.from_pretrained(minilm_path())
    raw = AutoModel.from_pretrained(minilm_path()).eval()
    bs = cnf.embedding_batch_size
    cm.embed_names(names[:64])
    from medcat_den.linking.context_model import inference_dtype

    dtype = inference_dtype(cnf.encoder_dtype, torch.device("cpu"))
    matched = raw if dtype is None else AutoModel.from_pretrained(minilm_path()).to(dtype).eval()
    by_len = sorted(names, key=len)  # what ours does: length-sorted batches, little padding

    def forward(model: Any, texts: list[str]) -> float:
        t = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(texts), bs):
                enc = tok(texts[i:i + bs], padding=True, truncation=True,
                          max_length=cnf.max_token_length, return_tensors="pt")
                model(**enc)
        return len(texts) / (time.perf_counter() - t)

    results: dict[str, list[float]] = {"ours": [], "raw": [], "matched": []}
    for _ in range(2):  # interleaved, best of two
        t = time.perf_counter()
        cm.embed_names(names)
        results["ours"].append(len(names) / (time.perf_counter() - t))
        results["raw"].append(forward(raw, names))  # plain: float32, unsorted
        results["matched"].append(forward(matched, by_len))  # same dtype and batching as ours
    return {"ours_names_per_s": max(results["ours"]), "raw_names_per_s": max(results["raw"]),
            "matched_raw_names_per_s": max(results["matched"]),
            "raw_dtype_matched": str(dtype or torch.float32), "names": len(names)}


def part_memory_ours(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    import torch

    from medcat_den.linking.candidates import Mention
    from medcat_den.linking.config import EmbeddingLinkingConfig
    from medcat_den.linking.name_index import NameIndex
    from medcat_den.linking.static_linker import EmbeddingLinker

    g = torch.Generator().manual_seed(1)
    idx = NameIndex(True, "~")
    idx.keys = [f"n{i}" for i in range(args.names)]
    idx.target_cuis = [[f"C{i // 3}"] for i in range(args.names)]
    idx.embeddings = _random_names(args.names)
    linker = EmbeddingLinker.__new__(EmbeddingLinker)
    linker.cnf = EmbeddingLinkingConfig()
    linker.index = idx
    q = torch.nn.functional.normalize(torch.randn(64, 384, generator=g), dim=-1)
    mentions = [Mention(0, 0, 0, 1, 1) for _ in range(64)]
    linker.link(q[:2], mentions[:2])  # warm-up (allocator, kernels)
    extra, secs, (cuis, _, _) = _peak_extra_mb(lambda: linker.link(q, mentions))
    assert all(c is not None for c in cuis)
    return {"extra_peak_mb": extra, "seconds": secs}


def part_memory_upstream(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from medcat_embedding_linker.config import EmbeddingLinking
    from medcat_embedding_linker.embedding_linker import Linker

    class _Ent:
        def __init__(self) -> None:
            self.link_candidates: list[str] = []

    class _Cdb:
        pass

    g = torch.Generator().manual_seed(1)
    linker = Linker.__new__(Linker)
    linker.cnf_l = EmbeddingLinking()
    linker.device = torch.device("cpu")
    linker._name_keys = [f"n{i}" for i in range(args.names)]
    cdb = _Cdb()
    cdb.name2info = {n: {"per_cui_status": {f"C{i // 3}": "A"}}  # type: ignore[attr-defined]
                     for i, n in enumerate(linker._name_keys)}
    linker.cdb = cdb
    linker._names_context_matrix = _random_names(args.names)
    linker._valid_names = torch.ones(args.names, dtype=torch.bool)
    q = torch.nn.functional.normalize(torch.randn(64, 384, generator=g), dim=-1).half()
    linker._get_context_vectors = lambda doc, ents, size: q[: len(ents)]
    linker._generate_link_candidates(None, [_Ent() for _ in range(2)])  # warm-up
    ents = [_Ent() for _ in range(64)]
    extra, secs, _ = _peak_extra_mb(lambda: linker._generate_link_candidates(None, ents))
    assert all(e.link_candidates for e in ents)
    return {"extra_peak_mb": extra, "seconds": secs}


PARTS = {"train_ours": part_train_ours, "train_upstream": part_train_upstream,
         "infer_ours": part_infer_ours, "infer_upstream": part_infer_upstream,
         "names": part_names, "memory_ours": part_memory_ours,
         "memory_upstream": part_memory_upstream}


# ---------------------------------------------------------------------- orchestration
def _run_part(part: str, args: argparse.Namespace, python: str) -> dict[str, Any]:
    if not os.path.exists(python):
        return {"error": f"{python} missing (bash bench/setup_peers.sh upstream-linker)"}
    cmd = [python, os.path.abspath(__file__), "--part", part, "--train-docs",
           str(args.train_docs), "--epochs", str(args.epochs), "--infer-docs",
           str(args.infer_docs), "--names", str(args.names), "--threads", str(args.threads),
           "--name-repeats", str(args.name_repeats), "--workdir", args.workdir]
    env = {**os.environ, **ENV, "OMP_NUM_THREADS": str(args.threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _ratio(a: Any, b: Any) -> str:
    try:
        return f"{float(a) / float(b):.2f}x"
    except (TypeError, ValueError, ZeroDivisionError):
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=sorted(PARTS), help=argparse.SUPPRESS)
    ap.add_argument("--train-docs", type=int, default=60)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--infer-docs", type=int, default=100)
    ap.add_argument("--names", type=int, default=1_000_000)
    ap.add_argument("--name-repeats", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2,
                    help="inference runs per side, interleaved; the best is reported")
    ap.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.part:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(PARTS[args.part](args)))
        return 0
    ours_py = sys.executable
    import tempfile

    with tempfile.TemporaryDirectory(prefix="linker_bench_") as workdir:
        args.workdir = workdir
        res = {"train_ours": _run_part("train_ours", args, ours_py),
               "train_upstream": _run_part("train_upstream", args, UPSTREAM_PY)}
        infer: dict[str, list[dict[str, Any]]] = {"ours": [], "upstream": []}
        for _ in range(max(1, args.rounds)):  # interleaved: the machine's load drifts
            infer["ours"].append(_run_part("infer_ours", args, ours_py))
            infer["upstream"].append(_run_part("infer_upstream", args, UPSTREAM_PY))
    res["infer_ours"] = max(infer["ours"], key=lambda r: r.get("docs_per_s", 0))
    res["infer_upstream"] = max(infer["upstream"],
                                key=lambda r: r.get("docs_per_s_embed_all", 0))
    res["names"] = _run_part("names", args, ours_py)
    res["memory_ours"] = _run_part("memory_ours", args, ours_py)
    res["memory_upstream"] = _run_part("memory_upstream", args, UPSTREAM_PY)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    o = {**res["train_ours"], **res["infer_ours"]}
    u = {**res["train_upstream"], **res["infer_upstream"]}
    n, mo, mu = res["names"], res["memory_ours"], res["memory_upstream"]
    print(f"linker bench: {args.train_docs} train docs x {args.epochs} epochs, "
          f"{args.infer_docs} devel docs (best of {args.rounds} interleaved runs), "
          f"{args.threads} torch threads, our encoder_dtype {o.get('encoder_dtype')}, "
          f"data {DATA}")
    for name, r in res.items():
        if "error" in r:
            print(f"  [{name}] unavailable: {r['error']}")
    print(f"1. training mentions/s   ours {o.get('train_mentions_per_s', 0):8.1f}   upstream "
          f"{u.get('train_mentions_per_s', 0):8.1f}   ratio "
          f"{_ratio(o.get('train_mentions_per_s'), u.get('train_mentions_per_s'))} (target >= 2x)")
    def f1(r: dict[str, Any], key: str) -> str:
        v = r.get(key)
        return f"F1 {v:.3f}" if isinstance(v, float) else "F1 n/a"

    print("   F1: strict, on devel, one scorer for both sides (cat.get_entities, every "
          "prediction counts); ours trained as in 1., the upstream's static pack")
    print(f"2. inference docs/s      ours {o.get('docs_per_s', 0):8.2f} ({f1(o, 'f1')})   "
          f"upstream embedding every mention {u.get('docs_per_s_embed_all', 0):8.2f} "
          f"({f1(u, 'f1_embed_all')})   ratio "
          f"{_ratio(o.get('docs_per_s'), u.get('docs_per_s_embed_all'))} (target >= 1.5x)")
    print(f"                         ours ({o.get('mention_encoding')} encoding) without the "
          f"tagger's LSTM {o.get('docs_per_s_no_tagger', 0):8.2f} ({f1(o, 'f1_no_tagger')})")
    print(f"                         ours with one encoder pass per candidate window "
          f"({UPSTREAM_WINDOW} tokens, like the upstream) "
          f"{o.get('docs_per_s_upstream_window', 0):8.2f} ({f1(o, 'f1_upstream_window')})   "
          f"ratio {_ratio(o.get('docs_per_s_upstream_window'), u.get('docs_per_s_embed_all'))}")
    print(f"                         ours with MedCAT's token normaliser (the upstream's; ours "
          f"is {o.get('normaliser')}) {o.get('docs_per_s_medcat_normaliser', 0):8.2f} "
          f"({f1(o, 'f1_medcat_normaliser')})   ratio "
          f"{_ratio(o.get('docs_per_s_medcat_normaliser'), u.get('docs_per_s_embed_all'))}")
    print(f"                         upstream default (dictionary shortcut, no embedding for "
          f"single-candidate matches) {u.get('docs_per_s_default', 0):8.2f} "
          f"({f1(u, 'f1_default')})   ratio "
          f"{_ratio(o.get('docs_per_s'), u.get('docs_per_s_default'))} (target >= 0.45x)")
    print(f"3. names embedded/s      ours {n.get('ours_names_per_s', 0):8.1f}   raw MiniLM plain "
          f"(float32, unsorted) {n.get('raw_names_per_s', 0):8.1f}   ratio "
          f"{_ratio(n.get('ours_names_per_s'), n.get('raw_names_per_s'))}   raw matched "
          f"({n.get('raw_dtype_matched')}, length-sorted) "
          f"{n.get('matched_raw_names_per_s', 0):8.1f}   ratio "
          f"{_ratio(n.get('ours_names_per_s'), n.get('matched_raw_names_per_s'))} "
          f"(target >= 0.9)")
    print(f"4. extra peak memory, 64 mentions x {args.names} names: ours "
          f"{mo.get('extra_peak_mb', float('nan')):8.1f} MB ({mo.get('seconds', 0):.2f} s)   "
          f"upstream {mu.get('extra_peak_mb', float('nan')):8.1f} MB "
          f"({mu.get('seconds', 0):.2f} s)   (target <= 1536 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

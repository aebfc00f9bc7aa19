"""Devel quality of the upstream medcat-embedding-linker 0.4.0 (peer for issue 3).

Run with the peer venv (see bench/setup_peers.sh):

    bench/.venv-upstream-linker/bin/python bench/peers/upstream_linker_eval.py \
        --concepts ../shared/data/ncbi-disease/concepts.csv \
        --data ../shared/data/ncbi-disease/devel.json \
        [--train ../shared/data/ncbi-disease/train.json --epochs 2 --lr 1e-4 --unfreeze 0 ...]

Builds a pack from the concept CSV with the upstream *static* embedding linker (all defaults, model =
the local all-MiniLM-L6-v2 copy) and evaluates it ("untrained"). With --train it builds the same pack
with the upstream *trainable* linker, evaluates it before training ("trainable_untrained"), then
follows the upstream README recipe per epoch (``cat.trainer.train_supervised_raw(train, nepochs=1)``,
``linker.refresh_structure()``, ``linker.create_embeddings()``) and evaluates after every epoch
("trained": the best epoch, plus "per_epoch").

Metric: strict micro P/R/F1 (a predicted entity counts when start, end and CUI equal a gold
annotation of the export). The last stdout line is one JSON object.

The upstream linker picks each CUI's embedded name with ``max(set_of_names, key=len)``, so results
depend on Python's string hash seed. The script re-executes itself with PYTHONHASHSEED=--hashseed
(default 0) so that a run is reproducible.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concepts", required=True, help="concept CSV (cui,name,ontologies,name_status)")
    ap.add_argument("--data", required=True, help="MedCATtrainer export to evaluate on (devel)")
    ap.add_argument("--train", help="MedCATtrainer export to train the trainable linker on")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=None, help="learning_rate (upstream default 1e-4)")
    ap.add_argument("--weight-decay", type=float, default=None, help="upstream default 0.01")
    ap.add_argument("--unfreeze", type=int, default=None,
                    help="top_n_layers_to_unfreeze (upstream default 0; -1 = all)")
    ap.add_argument("--batch-size", type=int, default=None, help="training_batch_size (default 32)")
    ap.add_argument("--train-on-cuis", action="store_true", help="train_on_names=False")
    ap.add_argument("--no-projection", action="store_true", help="use_projection_layer=False")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="any other EmbeddingLinking setting for both packs, e.g. "
                         "--set long_similarity_threshold=0.5")
    ap.add_argument("--seed", type=int, default=0, help="torch / random seed")
    ap.add_argument("--hashseed", default="0", help="PYTHONHASHSEED to run under")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--skip-static", action="store_true", help="do not evaluate the static pack")
    ap.add_argument("--grid", action="store_true",
                    help="also evaluate every pack under a grid of upstream inference settings "
                         "(use_ner_link_candidates x always_calculate_similarity x "
                         "long_similarity_threshold) and report the best")
    ap.add_argument("--keep-cpu-autocast", action="store_true",
                    help="do not apply the CPU autocast workaround (shows the upstream crash)")
    return ap.parse_args()


def _reexec_with_hashseed(hashseed: str) -> None:
    if os.environ.get("PYTHONHASHSEED") != hashseed:
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


GRID_THRESHOLDS = (0.0, 0.4, 0.6)


def _grid_eval(u: Any, cat: Any, devel: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluate under inference-time settings that the upstream reads at predict time."""
    cnf = cat.config.components.linking
    saved = (cnf.use_ner_link_candidates, cnf.always_calculate_similarity,
             cnf.long_similarity_threshold)
    rows = []
    try:
        for ner_cands in (True, False):
            for always in (False, True):
                for thr in GRID_THRESHOLDS:
                    cnf.use_ner_link_candidates = ner_cands
                    cnf.always_calculate_similarity = always
                    cnf.long_similarity_threshold = thr
                    res = u.evaluate(cat, devel)
                    res["inference"] = {"use_ner_link_candidates": ner_cands,
                                        "always_calculate_similarity": always,
                                        "long_similarity_threshold": thr}
                    rows.append(res)
    finally:
        (cnf.use_ner_link_candidates, cnf.always_calculate_similarity,
         cnf.long_similarity_threshold) = saved
    return rows


def main() -> int:
    args = _parse()
    _reexec_with_hashseed(args.hashseed)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _upstream_common as u
    import torch

    torch.set_num_threads(args.threads)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, raw = item.partition("=")
        overrides[key] = json.loads(raw)

    devel = u.load_export(args.data)
    out: dict[str, Any] = {}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    settings: dict[str, Any] = {"hashseed": args.hashseed, "seed": args.seed,
                                "overrides": overrides, "device": device}

    if not args.skip_static:
        u.seed_everything(args.seed)
        t0 = time.perf_counter()
        cat = u.build_cat(args.concepts, u.STATIC, **overrides)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out["untrained"] = u.evaluate(cat, devel)
        out["untrained"]["eval_s"] = round(time.perf_counter() - t0, 2)
        out["untrained"]["build_s"] = round(build_s, 2)
        out["untrained"]["linker"] = u.STATIC
        if args.grid:
            rows = _grid_eval(u, cat, devel)
            out["untrained_grid_best"] = max(rows, key=lambda r: r["f1"])
            out["untrained_grid"] = rows
        del cat

    if args.train:
        train = u.load_export(args.train)
        tr_over = dict(overrides)
        if args.lr is not None:
            tr_over["learning_rate"] = args.lr
        if args.weight_decay is not None:
            tr_over["weight_decay"] = args.weight_decay
        if args.unfreeze is not None:
            tr_over["top_n_layers_to_unfreeze"] = args.unfreeze
        if args.batch_size is not None:
            tr_over["training_batch_size"] = args.batch_size
        if args.train_on_cuis:
            tr_over["train_on_names"] = False
        if args.no_projection:
            tr_over["use_projection_layer"] = False
        u.seed_everything(args.seed)
        cat = u.build_cat(args.concepts, u.TRAINABLE, **tr_over)
        linker = u.get_linker(cat)
        cnf = cat.config.components.linking
        settings.update({
            "epochs": args.epochs, "learning_rate": cnf.learning_rate,
            "weight_decay": cnf.weight_decay, "top_n_layers_to_unfreeze": cnf.top_n_layers_to_unfreeze,
            "training_batch_size": cnf.training_batch_size, "train_on_names": cnf.train_on_names,
            "use_projection_layer": cnf.use_projection_layer,
            "cpu_autocast_workaround": not args.keep_cpu_autocast,
        })
        out["trainable_untrained"] = u.evaluate(cat, devel)
        per_epoch: list[dict[str, Any]] = []
        n_mentions = u.count_mentions(train)
        for epoch in range(1, args.epochs + 1):
            t0 = time.perf_counter()
            try:
                if args.keep_cpu_autocast:
                    cat.trainer.train_supervised_raw(train, test_size=0, nepochs=1,
                                                     disable_progress=True)
                else:
                    with u.cpu_autocast_disabled():
                        cat.trainer.train_supervised_raw(train, test_size=0, nepochs=1,
                                                         disable_progress=True)
                linker._train_on_batch()  # flush a partial batch (upstream leaves it pending)
                linker.training_batch = []
            except Exception as exc:  # noqa: BLE001 - report the upstream crash as data
                out["trained"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                break
            train_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            linker.refresh_structure()
            linker.create_embeddings()
            embed_s = time.perf_counter() - t0
            res = u.evaluate(cat, devel)
            if args.grid:
                rows = _grid_eval(u, cat, devel)
                res["grid_best"] = max(rows, key=lambda r: r["f1"])
                res["grid"] = rows
            res.update({"epoch": epoch, "train_s": round(train_s, 2), "reembed_s": round(embed_s, 2),
                        "train_mentions_per_s": round(n_mentions / train_s, 1)})
            per_epoch.append(res)
            print(json.dumps({k: v for k, v in res.items() if k != "grid"}), file=sys.stderr,
                  flush=True)
        if per_epoch:
            best = max(per_epoch, key=lambda r: r["f1"])
            out["trained"] = {k: v for k, v in best.items() if k not in ("grid", "grid_best")}
            if args.grid:
                gbest = max(per_epoch, key=lambda r: r["grid_best"]["f1"])
                out["trained_grid_best"] = dict(gbest["grid_best"], epoch=gbest["epoch"])
            out["per_epoch"] = per_epoch
    out["settings"] = settings
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

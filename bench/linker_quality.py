"""Recompute the linker's NCBI devel quality figures the README and docs/linker.md show, one run.

    .venv/bin/python bench/linker_quality.py [--epochs N] [--workdir DIR] [--json]

Runs the user's commands (``medcat-den linker build``, ``linker train``, ``evaluate``), each in
its own process, and prints strict precision, recall and F1 on devel, scored from what
``cat.get_entities`` returns (every prediction counts):

- the untrained pack and the trained pack, at their defaults;
- a pack trained with ``linker train --calibrate`` (every 7th training document held out, with
  the names only those documents use hidden, to choose the rejection threshold);
- a pack built with ``--set unseen_name_folds=0`` and trained the same way: training without
  simulating unseen text (the ablation of ADR 0307);
- the trained pack with ``use_tagger: false`` and with ``mention_encoding: window`` at
  inference (``medcat-den evaluate --set``, which changes the setting for that run only).

No threshold is chosen on devel. Nothing here is timed against a target; the training time is
printed for the record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.environ.get("NCBI_DIR", os.path.join(os.path.dirname(ROOT), "shared", "data",
                                               "ncbi-disease"))
ENV = {"HF_HUB_OFFLINE": "1", "MEDCAT_DISABLE_VERSION_CHECK": "true", "TQDM_DISABLE": "1"}
CLI = [sys.executable, "-m", "medcat_den"]


def _run(args: list[str]) -> str:
    proc = subprocess.run(CLI + args, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **ENV})
    if proc.returncode != 0:
        raise SystemExit(f"medcat-den {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    return proc.stdout


def _evaluate(pack: str, overrides: dict[str, Any] | None = None) -> dict[str, float]:
    sets = [a for k, v in (overrides or {}).items() for a in ("--set", f"{k}={json.dumps(v)}")]
    out = _run(["evaluate", pack, "--data", os.path.join(DATA, "devel.json"), "--json", *sets])
    result: dict[str, float] = json.loads(out[out.index("{"):])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, help="default: the linker config's")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="linker_quality_") as tmp:
        work = args.workdir or tmp
        epochs = ["--epochs", str(args.epochs)] if args.epochs else []

        def build(name: str, *sets: str) -> None:
            _run(["linker", "build", "--concepts", os.path.join(DATA, "concepts.csv"), "--out",
                  work, "--trainable", "--name", name, *sets])

        def train(base: str, name: str, *extra: str) -> None:
            _run(["linker", "train", os.path.join(work, base), "--train",
                  os.path.join(DATA, "train.json"), "--out", work, "--name", name, *epochs,
                  *extra])

        build("ncbi")
        started = time.perf_counter()
        train("ncbi", "ncbi_trained")
        train_s = time.perf_counter() - started
        train("ncbi", "ncbi_calibrated", "--calibrate")
        build("ncbi_nosim", "--set", "unseen_name_folds=0")
        train("ncbi_nosim", "ncbi_nosim_trained")
        trained = os.path.join(work, "ncbi_trained")
        rows = {
            "untrained": _evaluate(os.path.join(work, "ncbi")),
            "trained": _evaluate(trained),
            "trained --calibrate": _evaluate(os.path.join(work, "ncbi_calibrated")),
            "trained, unseen_name_folds 0": _evaluate(os.path.join(work, "ncbi_nosim_trained")),
            "trained, use_tagger false": _evaluate(trained, {"use_tagger": False}),
            "trained, mention_encoding window": _evaluate(trained,
                                                          {"mention_encoding": "window"}),
        }
    if args.json:
        print(json.dumps({"train_s": train_s, "rows": rows}, indent=2))
        return 0
    print(f"NCBI devel, strict, through cat.get_entities; {args.epochs or 'default'} epochs on "
          f"all of train ({train_s / 60:.1f} min); data {DATA}")
    print(f"{'pack':36s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for name, r in rows.items():
        print(f"{name:36s} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f}")
    for name in ("trained", "trained --calibrate", "trained, unseen_name_folds 0"):
        gain = rows[name]["f1"] - rows["untrained"]["f1"]
        print(f"{name} - untrained: {gain:+.3f} F1 (target >= +0.05)")
    print("trained F1 target >= 0.76, recall >= 0.68")
    return 0


if __name__ == "__main__":
    sys.exit(main())

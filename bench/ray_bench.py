"""Ray training-job benchmark (one run; prints figures and ratios, asserts nothing).

On a throw-away local den holding a tiny real MedCAT pack, with the ``MEDCAT_RAY``
trainer configured with no ``address`` (so it starts its private local Ray head on
127.0.0.1, which this run also times), measures:
1. submit latency of ``MEDCAT_RAY.train(...)``: the first submission (Ray client, data
   stored in the den) and later ones;
2. job overhead: wall time from submit to COMPLETED of one Ray job vs the local
   ``MEDCAT_EMBEDDING_LINKER`` trainer (thread mode) on the same data and settings;
3. two concurrent Ray jobs' wall time vs one job alone (both need a CPU each);
4. optionally (``--workers 2``) a data-parallel job's wall time and F1 vs single-worker.

The trained component is the real ToyLinker; ``--docs`` / ``--epochs`` set the work.

    .venv/bin/python bench/ray_bench.py [--docs 1200] [--epochs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402
from train_bench import CONCEPTS, TOY, build_pack  # noqa: E402


def run_job(train: Any, **kwargs: Any) -> tuple[float, float, Any]:
    """(submit seconds, submit-to-terminal seconds, info) of one job."""
    t0 = time.perf_counter()
    future = train(**kwargs)
    submitted = time.perf_counter() - t0
    future.wait()
    return submitted, time.perf_counter() - t0, future.get_info()


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--docs", type=int, default=1200)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="0 = skip the data-parallel run")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mdrb-"))
    for var in list(os.environ):
        if var.startswith("MEDCAT_DEN_"):
            del os.environ[var]
    os.environ.update(MEDCAT_DEN_TYPE="LOCAL_USER", MEDCAT_DEN_PATH=str(tmp / "den"),
                      MEDCAT_DEN_STATE_DIR=str(tmp / "state"), HF_HUB_OFFLINE="1",
                      MEDCAT_DISABLE_VERSION_CHECK="true", TQDM_DISABLE="1")
    from medcat_den.caikit import MedCATModule
    from medcat_den.caikit.trainers import MedCATLocalTrainer
    from medcat_den.caikit.trainers.ray_trainer import MedCATRayTrainer, local_head
    from medcat_den.den import get_default_den
    from medcat_den.training.toy import make_toy_export

    den = get_default_den()
    den.push_model(build_pack(tmp / "pack"), name="bench-base")
    train_data = make_toy_export(CONCEPTS, n_docs=args.docs, seed=1)
    eval_data = make_toy_export(CONCEPTS, n_docs=max(20, args.docs // 10), seed=2)
    config = {"epochs": args.epochs, "batch_size": 16, "learning_rate": 0.02}
    common = {"base_model": "den://bench-base", "train_data": train_data,
              "eval_data": eval_data, "trainer_config": config}

    t0 = time.perf_counter()
    head = local_head(2)
    head_start = time.perf_counter() - t0
    ray_trainer = MedCATRayTrainer({"component_factory": TOY, "num_cpus": 1}, "bench-ray")

    def ray_train(**kw: Any) -> Any:
        return ray_trainer.train(MedCATModule, **kw)

    # Ray runs a 1-CPU job with OMP_NUM_THREADS=1: give the local trainer the same
    import torch

    torch.set_num_threads(1)
    local = MedCATLocalTrainer(
        {"component_factory": TOY, "state_dir": str(tmp / "state")}, "bench-local")

    def local_train(**kw: Any) -> Any:
        return local.train(MedCATModule, **kw)

    print(f"Ray {__import__('ray').__version__}, local head pid {head.pid} at "
          f"{head.dashboard_url}; {args.docs} docs x {args.epochs} epochs; "
          f"{os.cpu_count()} cores")
    first_submit, ray_wall_cold, info = run_job(ray_train, **common, name="bench-ray-cold")
    assert info.status.name == "COMPLETED", info.errors
    submit_2, ray_wall, ray_info = run_job(ray_train, **common, name="bench-ray")
    _, local_wall, local_info = run_job(local_train, **common, name="bench-local")
    assert ray_info.status.name == local_info.status.name == "COMPLETED"

    t0 = time.perf_counter()
    futures, submits = [], [submit_2]
    for s in (1, 2):
        t1 = time.perf_counter()
        futures.append(ray_train(**{**common, "trainer_config": {**config, "seed": s}},
                                 name=f"bench-conc-{s}"))
        submits.append(time.perf_counter() - t1)
    for f in futures:
        f.wait()
    pair_wall = time.perf_counter() - t0
    assert all(f.get_info().status.name == "COMPLETED" for f in futures)

    rows = [
        ("local Ray head start (s)", f"{head_start:.1f}", ""),
        ("submit latency, first (ms)", f"{first_submit * 1000:.0f}",
         "client + data stored in den"),
        ("submit latency, later (ms)", f"{statistics.median(submits) * 1000:.0f}",
         f"median of {len(submits)} (min {min(submits) * 1000:.0f})"),
        ("local trainer job wall (s)", f"{local_wall:.1f}", "MEDCAT_EMBEDDING_LINKER, thread"),
        ("Ray job wall (s)", f"{ray_wall:.1f}", f"cold first job {ray_wall_cold:.1f}"),
        ("Ray job / local job", f"{ray_wall / local_wall:.2f}x",
         f"overhead {ray_wall - local_wall:+.1f} s"),
        ("2 concurrent Ray jobs wall (s)", f"{pair_wall:.1f}", ""),
        ("2 concurrent / 1 job", f"{pair_wall / ray_wall:.2f}x", "2.0 = no overlap"),
        ("F1 local / Ray", f"{local_info.final_metrics.get('f1', 0):.3f} / "
         f"{ray_info.final_metrics.get('f1', 0):.3f}", "same data + seed"),
        ("eval loss local / Ray", f"{local_info.final_metrics.get('eval_loss', 0):.4f} / "
         f"{ray_info.final_metrics.get('eval_loss', 0):.4f}", "identical = same training"),
    ]
    if args.workers > 1:
        _, dp_wall, dp_info = run_job(ray_train, **common, num_workers=args.workers,
                                      name="bench-ray-dp")
        assert dp_info.status.name == "COMPLETED", dp_info.errors
        rows += [
            (f"{args.workers}-worker Ray job wall (s)", f"{dp_wall:.1f}",
             f"{dp_wall / ray_wall:.2f}x of 1 worker"),
            (f"F1 {args.workers} workers / 1", f"{dp_info.final_metrics.get('f1', 0):.3f} / "
             f"{ray_info.final_metrics.get('f1', 0):.3f}", "target: equal"),
            (f"eval loss {args.workers} workers / 1",
             f"{dp_info.final_metrics.get('eval_loss', 0):.4f} / "
             f"{ray_info.final_metrics.get('eval_loss', 0):.4f}", "same global batch"),
        ]
    print_table(rows)
    local.shutdown()
    head.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

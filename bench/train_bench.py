"""Training-job benchmark (one run; prints figures and ratios, asserts nothing).

Measures, on a throw-away local den holding a tiny real MedCAT pack:
1. submit latency of ``MEDCAT_EMBEDDING_LINKER.train(...)`` (target < 100 ms);
2. job machinery overhead: wall time from submit to COMPLETED (thread and subprocess
   modes) vs calling ``Trainer.fit`` directly on the same component and data
   (target <= 1.05x); the job also validates data, fetches the base pack from the den,
   saves and pushes the result, all included;
3. time from ``cancel()`` to CANCELED, and until the worker has actually stopped.

The trained component is the real ToyLinker (``--docs`` controls the amount of data,
so the training time; defaults give ~2.5 s of training CPU per run).

    .venv/bin/python bench/train_bench.py [--docs 3000] [--epochs 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
os.environ.setdefault("TQDM_DISABLE", "1")

CONCEPTS = [
    ("C0011849", "diabetes mellitus"), ("C0011849", "diabetes"), ("C0020538", "hypertension"),
    ("C0020538", "high blood pressure"), ("C0004096", "asthma"),
    ("C0027051", "myocardial infarction"), ("C0027051", "heart attack"),
    ("C0018801", "heart failure"), ("C0006826", "cancer"), ("C0006826", "malignant neoplasm"),
    ("C0024117", "chronic obstructive pulmonary disease"), ("C0024117", "copd"),
]
TOY = "medcat_den.training.toy:toy_component_factory"


def build_pack(folder: Path) -> str:
    import csv

    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    folder.mkdir(parents=True)
    with open(folder / "concepts.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cui", "name"])
        w.writerows(CONCEPTS)
    cdb = CDBMaker(Config()).prepare_csvs([str(folder / "concepts.csv")])
    return str(CAT(cdb, vocab=Vocab()).save_model_pack(
        str(folder), pack_name="bench", make_archive=False, add_hash_to_pack_name=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--submits", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for every run (2 OpenMP threads on a shared 2-core "
                         "machine made the main thread 10-40x slower in our trials)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="medcat-den-train-bench-"))
    os.environ.update(MEDCAT_DEN_TYPE="LOCAL_USER", MEDCAT_DEN_PATH=str(tmp / "den"),
                      MEDCAT_DEN_STATE_DIR=str(tmp / "state"))
    import torch
    from medcat.cat import CAT

    from medcat_den.caikit import MedCATModule
    from medcat_den.caikit.trainers import MedCATLocalTrainer
    from medcat_den.den import get_default_den
    from medcat_den.training import Trainer
    from medcat_den.training.toy import make_toy_export, toy_component_factory

    den = get_default_den()
    base = den.push_model(build_pack(tmp / "pack"), name="bench-base")
    train = make_toy_export(CONCEPTS, n_docs=args.docs, seed=1)
    devel = make_toy_export(CONCEPTS, n_docs=max(20, args.docs // 10), seed=2)
    cfg = {"epochs": args.epochs, "batch_size": 4, "learning_rate": 0.01,
           "num_threads": args.threads}
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(len(d['annotations']) for d in train['projects'][0]['documents'])} "
          f"training mentions, {args.epochs} epochs")

    def direct_fit() -> tuple[float, float]:
        with den.materialise(base.model_id) as pack:
            cat = CAT.load_model_pack(pack)
            component = toy_component_factory(cat, pack)
        t0, c0 = time.perf_counter(), time.thread_time()
        Trainer(component, cfg, progress=False).fit(train, devel)
        return time.perf_counter() - t0, time.thread_time() - c0

    def job(mode: str) -> dict[str, float]:
        trainer = MedCATLocalTrainer(
            {"component_factory": TOY, "use_subprocess": mode == "subprocess"}, f"bench-{mode}")
        t0, c0 = time.perf_counter(), time.process_time()
        fut = trainer.train(MedCATModule, base_model="den://bench-base", train_data=train,
                            eval_data=devel, trainer_config=cfg, name=f"bench-{mode}")
        fut.wait()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        info = fut.get_info()
        assert info.status.name == "COMPLETED", info.errors
        results_ids[mode] = str(info.result_model_id)
        trainer.shutdown()
        rec = fut.record  # (the den keeps the first push's metadata for identical content)
        return {"wall": wall, "cpu": cpu, "fit_wall": float(rec.fit_seconds),
                "fit_cpu": float(rec.fit_cpu_seconds)}

    def med(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.2f} s ({', '.join(f'{x:.2f}' for x in xs)})"

    results_ids: dict[str, str] = {}
    direct_fit()  # warm-up (first torch calls, page cache)
    direct: list[tuple[float, float]] = []
    jobs: list[dict[str, float]] = []
    for _ in range(args.repeats):  # interleaved, so load from other processes hits both
        direct.append(direct_fit())
        jobs.append(job("thread"))
    d_wall = [d[0] for d in direct]
    d_cpu = [d[1] for d in direct]
    j = {k: [x[k] for x in jobs] for k in jobs[0]}
    md_cpu = statistics.median(d_cpu)
    print(f"direct Trainer.fit: CPU {med(d_cpu)}; wall {med(d_wall)}")
    print(f"Trainer.fit inside a thread-mode job (progress callback, cancellation checks, "
          f"checkpoints, record updates): CPU {med(j['fit_cpu'])} = "
          f"{statistics.median(j['fit_cpu']) / md_cpu:.3f}x direct (target <= 1.05x); "
          f"wall {med(j['fit_wall'])}")
    print(f"whole thread-mode job, submit -> COMPLETED (+ data validation, den fetch and load of "
          f"the base, pack save, push): process CPU {med(j['cpu'])} = "
          f"{statistics.median(j['cpu']) / md_cpu:.3f}x direct fit; wall {med(j['wall'])} = "
          f"{statistics.median(j['wall']) / statistics.median(d_wall):.3f}x")
    sub = job("subprocess")
    print(f"subprocess-mode job (spawn): wall {sub['wall']:.2f} s, of which fit "
          f"{sub['fit_wall']:.2f} s (fit CPU {sub['fit_cpu']:.2f} s = "
          f"{sub['fit_cpu'] / md_cpu:.3f}x direct); the rest is the fixed cost of a fresh "
          "interpreter importing torch, medcat and caikit, plus fetch/save/push")
    print("(wall times on this shared 2-core machine vary 2-3x between identical runs; "
          "CPU times are the comparable figures)")

    # 1. submit latency (jobs queue behind one running job and are then canceled)
    endless = {"epochs": 100000, "batch_size": 2, "eval_each_epoch": False,
               "checkpoint_each_epoch": False, "num_threads": args.threads}
    trainer = MedCATLocalTrainer({"component_factory": TOY, "max_workers": 1},
                                           "bench-submit")
    lat = []
    futures = []
    for _ in range(args.submits):
        t0 = time.perf_counter()
        futures.append(trainer.train(MedCATModule, base_model="den://bench-base",
                                     train_data=train, trainer_config=endless))
        lat.append(time.perf_counter() - t0)
    print(f"submit latency over {args.submits} submits: median {statistics.median(lat)*1e3:.1f} "
          f"ms, max {max(lat)*1e3:.1f} ms (target < 100 ms)")
    for f in futures:
        f.cancel()
    trainer.shutdown()

    # 3. cancel -> CANCELED
    for mode in ("thread", "subprocess"):
        trainer = MedCATLocalTrainer(
            {"component_factory": TOY, "use_subprocess": mode == "subprocess"}, f"bench-c-{mode}")
        fut = trainer.train(MedCATModule, base_model="den://bench-base", train_data=train,
                            trainer_config=endless)
        while fut.get_info().step < 5:
            time.sleep(0.02)
        t0 = time.perf_counter()
        fut.cancel()
        while fut.get_info().status.name != "CANCELED":
            time.sleep(0.001)
        t_status = time.perf_counter() - t0
        fut.wait()
        t_stopped = time.perf_counter() - t0
        print(f"cancel ({mode}): CANCELED after {t_status*1e3:.1f} ms, worker stopped after "
              f"{t_stopped*1e3:.0f} ms (target < 5 s)")
        trainer.shutdown()
    same = results_ids["thread"] == results_ids["subprocess"]
    print(f"thread and subprocess jobs pushed {'the same' if same else 'DIFFERENT'} content "
          f"({results_ids['thread'][:12]} / {results_ids['subprocess'][:12]}); den holds "
          f"{len(den.list_available_models())} models (base + results; canceled jobs pushed none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

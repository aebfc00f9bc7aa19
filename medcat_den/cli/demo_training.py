"""The training part of ``make demo`` (called by ``medcat_den.cli.demo``; prints, as demos do).

Fine-tunes the starter model (linking, rejection and the mention tagger) for one epoch in
a background job, evaluates the base model on devel meanwhile, follows the job with a status
line per stage and at most one every 15 s while it trains (no progress bars:
``medcat_den.cli.demo`` sets ``TQDM_DISABLE=1`` unless it is set, so nothing interleaves),
then prints the new model's lineage and devel F1 before/after, both scored on what
``cat.get_entities`` returns. Data: the NCBI disease exports in ``MEDCAT_DEN_DEMO_DATA``
(default ``../shared/data/ncbi-disease`` next to the repository);
``MEDCAT_DEN_DEMO_TRAIN_DOCS`` limits the training documents (default 300).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ncbi-disease"
CONFIG = {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3, "weight_decay": 0.01,
          "lr_schedule": "constant", "max_grad_norm": None, "time_limit_s": 300,
          "eval_each_epoch": False, "checkpoint_each_epoch": False}
STATUS_EVERY_S = 15.0


def training_demo_step(den: Any, info: Any) -> None:
    from medcat_den.caikit import MedCATModule
    from medcat_den.caikit.trainers import MedCATEmbeddingLinkerTrainer
    from medcat_den.training import load_export

    data = Path(os.environ.get("MEDCAT_DEN_DEMO_DATA") or DEFAULT_DATA)
    if not (data / "train.json").is_file() or not (data / "devel.json").is_file():
        print(f"== (skipping fine-tuning: no train.json / devel.json in {data})")
        return
    train = load_export(data / "train.json")
    n_docs = int(os.environ.get("MEDCAT_DEN_DEMO_TRAIN_DOCS", "300"))
    train = {"projects": [{**p, "documents": p["documents"][:n_docs]}
                          for p in train["projects"][:1]]}
    devel = load_export(data / "devel.json")

    trainer = MedCATEmbeddingLinkerTrainer({}, "demo")
    started = time.perf_counter()
    future = trainer.train(MedCATModule, base_model=info.model_id, train_data=train,
                           eval_data=devel, trainer_config=CONFIG,
                           name=f"{info.name}-finetuned", aliases=["candidate"])
    print(f"== fine-tuning {info.ref} on {n_docs} NCBI train documents in the background: job "
          f"{future.id} (submitted in {(time.perf_counter() - started) * 1e3:.0f} ms)")

    print("== meanwhile, evaluating the base model on NCBI devel ...")
    try:
        from medcat_den.linking import evaluate

        before: float | None = evaluate(den.fetch_model(info.model_id), devel,
                                        progress=False)["f1"]
        print(f"    base model devel F1: {before:.3f}", flush=True)
    except Exception as err:  # the demo goes on; the job reports its own errors
        print(f"    (base evaluation failed: {err})")
        before = None

    shown, shown_at = None, 0.0
    while not future.wait(2.0):
        i = future.get_info()
        stage = (i.status.name, i.phase, i.epoch)
        # a line when the job changes stage, else at most one every STATUS_EVERY_S seconds
        if stage != shown or time.perf_counter() - shown_at >= STATUS_EVERY_S:
            print(f"    {i.status.name:<9} {i.phase:<8} epoch {i.epoch}/{i.num_epochs} "
                  f"step {i.step}/{i.max_steps}" + (f" loss {i.loss:.4f}" if i.loss else ""),
                  flush=True)
            shown, shown_at = stage, time.perf_counter()
    i = future.get_info()
    print(f"== job {i.status.name} after {time.perf_counter() - started:.0f} s")
    if i.status.name != "COMPLETED":
        for problem in i.errors or []:
            print(f"    error: {problem}")
        return
    lineage = " <- ".join(f"{m.name}/{m.version} ({m.model_id[:12]})"
                          for m in den.lineage(i.result_model_id))
    print(f"== pushed {i.result_ref}; lineage: {lineage}")
    meta = den.info(i.result_model_id).metadata["training"]
    print(f"    data fingerprint (sha256): train {meta['data_fingerprint']['train'][:16]}..., "
          f"devel {meta['data_fingerprint']['eval'][:16]}...")
    from medcat_den.linking import evaluate

    # scored like "before": on what users get from cat.get_entities (the job's own
    # evaluation, recorded in the den, scores the linker's output directly)
    after = evaluate(den.fetch_model(i.result_model_id), devel, progress=False)["f1"]
    recorded = i.final_metrics.get("f1")
    print(f"== devel F1 (cat.get_entities) before: {'n/a' if before is None else f'{before:.3f}'}"
          f", after: {after:.3f}"
          + (f" (the job recorded {recorded:.3f})" if recorded is not None else ""))
    trainer.shutdown(cancel=False)

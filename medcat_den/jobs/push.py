"""Publish a job's trained pack: :func:`push_result` pushes it to the job's den with the
base model as parent and the training record (data fingerprints and sources, config,
metrics, steps, stop reason, fit time) as metadata. Runs in the process that owns the
job (the caikit trainer's process, the Ray job driver, data-parallel rank 0). Config: none.
"""

from __future__ import annotations

from datetime import datetime, timezone

from medcat_den.den import Den, ModelInfo
from medcat_den.jobs.data import describe_source
from medcat_den.jobs.outcome import JobOutcome
from medcat_den.jobs.spec import JobSpec


def push_result(spec: JobSpec, outcome: JobOutcome, den: Den | None = None) -> ModelInfo:
    """Push the trained pack with parents, data fingerprint, config and metrics (to ``den``,
    else to the den ``spec`` names)."""
    den = den if den is not None else spec.den.open()
    name = spec.name or f"{outcome.base_name or 'model'}-finetuned"
    metadata = {"training": {
        "job_id": spec.id,
        "trainer": spec.trainer_name,
        "base_model": outcome.base_model_id,
        "base_ref": spec.base_model,
        "data_fingerprint": outcome.fingerprints.model_dump(),
        "data_sources": {"train": describe_source(spec.train_data),
                         "eval": describe_source(spec.eval_data)},
        "trainer_config": outcome.trainer_config,
        "metrics": outcome.metrics,
        "steps": outcome.steps,
        "epochs_completed": outcome.epochs_completed,
        "stop_reason": outcome.stop_reason,
        "fit_seconds": round(outcome.fit_seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(),
    }}
    return den.push_model(
        outcome.pack, f"fine-tuned from {outcome.base_model_id[:12]} by job {spec.id}",
        name=name, aliases=list(spec.aliases), metadata=metadata,
        parents=[outcome.base_model_id])

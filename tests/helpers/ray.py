"""Helpers of the Ray tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.s3 import S3Server

TOY = "medcat_den.training.toy:toy_component_factory"


@dataclass
class RayDen:
    head: Any  # LocalRayHead
    s3: S3Server
    den: Any  # Den on S3
    url: str  # s3://bucket/den
    base: Any  # ModelInfo of the base model "tiny"
    tmp: Path


def trainer_config(ray_den: RayDen, **extra: Any) -> dict[str, Any]:
    return {"address": ray_den.head.dashboard_url, "component_factory": TOY, "num_cpus": 1,
            "stop_grace_period_s": 30, "python": sys.executable, "poll_interval_s": 0.1,
            **extra}


def configure(ray_den: RayDen, name: str = "ray", **extra: Any) -> None:
    import caikit

    import medcat_den.caikit.trainers.ray_trainer  # noqa: F401  (registers MEDCAT_RAY)
    from medcat_den.caikit.server import configure_caikit

    configure_caikit(runtime=False)
    caikit.configure(config_dict={"model_management": {"trainers": {name: {
        "type": "MEDCAT_RAY", "config": trainer_config(ray_den, **extra)}}}})

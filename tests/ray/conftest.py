"""Ray fixtures: one real Ray head on 127.0.0.1 (started and stopped by PID) and a den on
the moto S3 server that every Ray worker reads from and pushes to. Module-scoped (there is
one test module), so neither the processes nor the environment outlive this group.

The head is started after the S3 server, so its workers find the test credentials in
their environment (a node's "standard AWS chain"), but before any MEDCAT_DEN_* variable is
set: a job only knows its den through what the trainer forwards.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.caikit import isolated_caikit_state
from tests.helpers.ray import RayDen
from tests.helpers.s3 import start_server


def _have_ray() -> bool:
    # (a bare `import ray` could find this very folder as a namespace package)
    try:
        return importlib.util.find_spec("ray.job_submission") is not None
    except ModuleNotFoundError:
        return False


if not _have_ray():  # the optional `ray` extra is not installed: skip this group
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="module")
def ray_den(tmp_path_factory: pytest.TempPathFactory, tiny_pack: Path) -> Iterator[RayDen]:
    from medcat_den.jobs.ray_head import LocalRayHead

    servers = start_server()
    s3 = next(servers)
    head = LocalRayHead(num_cpus=4, python=sys.executable)
    head.start()
    tmp = tmp_path_factory.mktemp("ray")
    url = f"s3://{s3.new_bucket()}/den"
    env = {
        "MEDCAT_DEN_TYPE": "S3", "MEDCAT_DEN_REMOTE_HOST": url,
        "MEDCAT_DEN_LOCAL_CACHE_PATH": str(tmp / "cache"),
        "MEDCAT_DEN_STATE_DIR": str(tmp / "state"),
        "MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED": "true",
        "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE": "true",
    }
    with pytest.MonkeyPatch.context() as mp:
        for var in list(os.environ):
            if var.startswith("MEDCAT_DEN_"):
                mp.delenv(var)
        for key, value in env.items():
            mp.setenv(key, value)
        try:
            from medcat_den.den import get_default_den

            den = get_default_den()
            base = den.push_model(str(tiny_pack), name="tiny", description="ray test base")
            yield RayDen(head=head, s3=s3, den=den, url=url, base=base, tmp=tmp)
        finally:
            head.stop()
            servers.close()


@pytest.fixture(autouse=True)
def caikit_state() -> Iterator[None]:
    """Each test gets caikit's config and trainer caches as they were, and restores them."""
    import medcat_den.caikit.trainers.ray_trainer  # noqa: F401

    with isolated_caikit_state():
        yield


@pytest.fixture(scope="module")
def linker_base(ray_den: RayDen, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real trainable-embedding-linker pack (tiny random BERT) pushed to the S3 den as
    ``toy-linker``; its ModelInfo."""
    from medcat_den.linking.builder import build_pack
    from tests.conftest import write_concepts_csv
    from tests.linking.conftest import CONCEPTS, LINKER_OVERRIDES, make_bert

    bert = make_bert(tmp_path_factory.mktemp("bert"), 32, 0)
    csv = write_concepts_csv(tmp_path_factory.mktemp("concepts") / "concepts.csv", CONCEPTS)
    pack = build_pack(str(csv), str(tmp_path_factory.mktemp("linker")), trainable=True,
                      config_overrides={"embedding_model_name": str(bert), **LINKER_OVERRIDES})
    return ray_den.den.push_model(str(pack), name="toy-linker")

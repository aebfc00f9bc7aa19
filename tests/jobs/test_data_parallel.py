"""Data-parallel training equals single-worker training on the same global batch.

Two real processes in a gloo group on 127.0.0.1 run the data-parallel worker's training
(:func:`medcat_den.jobs.data_parallel.train_worker`, what every Ray Train worker runs) on
a real MedCAT pack from a real den; one process runs the same spec single-worker. Each
epoch is one global batch (``batch_size`` = all examples), so after every step the
weights must agree within float tolerance.
"""

from __future__ import annotations

import multiprocessing
import queue
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from medcat_den.jobs import JobOutcome, JobSpec, run_training
from medcat_den.training import TrainerConfig
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS
from tests.jobs._workers import data_parallel_worker

FACTORY = "tests.jobs._workers:toy_without_dropout"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _weights(outcome: JobOutcome) -> dict[str, torch.Tensor]:
    saved = torch.load(Path(outcome.pack) / "toy_linker_state.pt", weights_only=False)
    return {k: v.float() for k, v in saved["state"].items()}


def _even_export() -> tuple[dict[str, Any], int]:
    export = make_toy_export(TINY_CONCEPTS, n_docs=16, seed=3)
    docs = export["projects"][0]["documents"]
    n = sum(len(d["annotations"]) for d in docs)
    if n % 2:  # two equal shards: an even number of examples
        docs[0]["annotations"].pop()
        n -= 1
    return export, n


def _spec(tmp: Path, name: str, export: dict[str, Any], n: int) -> JobSpec:
    config = TrainerConfig(epochs=3, batch_size=n, learning_rate=0.05, max_grad_norm=0.5,
                           eval_each_epoch=False, checkpoint_each_epoch=False, num_threads=1)
    return JobSpec(id=f"test:{name}", uuid=name * 32, trainer_name="test",
                   base_model="den://tiny", train_data=export, trainer_config=config,
                   component_factory=FACTORY, scratch=str(tmp / name))


def test_two_worker_steps_equal_single_worker_steps(isolated_env: Path, tiny_pack: Path,
                                                    tmp_path: Path) -> None:
    from medcat_den.den import get_default_den

    get_default_den().push_model(str(tiny_pack), name="tiny")
    export, n = _even_export()
    single = run_training(_spec(tmp_path, "a", export, n))
    assert single is not None and single.steps == 3

    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    spec_json = _spec(tmp_path, "b", export, n).model_dump_json()
    procs = [ctx.Process(target=data_parallel_worker, args=(spec_json, rank, 2, port, results))
             for rank in (0, 1)]
    for p in procs:
        p.start()
    got: dict[int, str | None] = {}
    deadline = time.monotonic() + 300
    try:
        while len(got) < 2:
            assert time.monotonic() < deadline, "the workers did not finish"
            try:
                rank, payload = results.get(timeout=1)
            except queue.Empty:
                failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                assert not failed or not results.empty(), \
                    f"a worker died with exit code {failed}; results so far: {got}"
                continue
            got[rank] = payload
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
    assert got[1] is None, got[1]  # only rank 0 saves
    assert got[0] is not None and not got[0].startswith("error"), got[0]
    parallel = JobOutcome.model_validate_json(got[0])
    assert parallel.steps == single.steps
    assert parallel.trainer_config["num_workers"] == 2
    assert parallel.trainer_config["batch_size"] == n  # recorded: the global batch

    a, b = _weights(single), _weights(parallel)
    assert a.keys() == b.keys()
    start = {k: v.float() for k, v in _start_weights().items()}
    assert any(not torch.allclose(a[k], start[k]) for k in a)  # training moved the weights
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6,
                                   msg=lambda m, key=key: f"{key}: {m}")


def _start_weights() -> dict[str, torch.Tensor]:
    from medcat_den.training.toy import ToyLinker

    torch.manual_seed(0)
    cuis = sorted({c for c, _ in TINY_CONCEPTS})
    return ToyLinker(cuis, dropout=0.0).state_dict()


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)

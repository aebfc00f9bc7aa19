"""Code the jobs tests run in spawned processes (importable by the children)."""

from __future__ import annotations

from typing import Any

import torch

from medcat_den.training.toy import ToyLinker


def toy_without_dropout(cat: Any, pack_dir: str | None = None) -> ToyLinker:
    """The toy component with deterministic forward passes (dropout masks would differ
    between one worker drawing for the whole batch and two drawing for halves)."""
    torch.manual_seed(0)
    return ToyLinker(sorted(cat.cdb.cui2info), dropout=0.0)


def data_parallel_worker(spec_json: str, rank: int, world: int, port: int,
                         results: Any) -> None:
    """One rank of a gloo group on 127.0.0.1 running the data-parallel worker's run."""
    import torch.distributed as dist

    from medcat_den.jobs.data_parallel import train_worker
    from medcat_den.jobs.spec import JobSpec

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        outcome = train_worker(JobSpec.model_validate_json(spec_json), rank, world,
                               lambda: False, lambda: True)
        results.put((rank, outcome.model_dump_json() if outcome is not None else None))
    except BaseException as err:
        results.put((rank, f"error: {type(err).__name__}: {err}"))
        raise
    finally:
        dist.destroy_process_group()

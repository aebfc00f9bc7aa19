"""The MEDCAT_EMBEDDING_LINKER caikit trainer with real caikit, real den, real subprocesses.

Jobs fine-tune the real ToyLinker component (medcat_den.training.toy) on top of a real
MedCAT pack from the den; the trainable embedding linker is exercised in test_trainer_linker.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import caikit
import pytest
from caikit.core import MODEL_MANAGER
from caikit.core.data_model import JobStatus
from caikit.core.exceptions.caikit_core_exception import (
    CaikitCoreException,
    CaikitCoreStatusCode,
)
from caikit.core.toolkit.reversible_hasher import ReversibleHasher

from medcat_den.caikit import MedCATModule
from medcat_den.caikit.server import configure_caikit
from medcat_den.caikit.trainers import MedCATEmbeddingLinkerTrainer, put_dataset
from medcat_den.errors import (
    ConfigError,
    TrainingCanceledError,
    TrainingError,
)
from medcat_den.training import fingerprint, load_export
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS

REPO = Path(__file__).resolve().parents[2]
TOY = "medcat_den.training.toy:toy_component_factory"
TRAIN = make_toy_export(TINY_CONCEPTS, n_docs=30, seed=1)
DEVEL = make_toy_export(TINY_CONCEPTS, n_docs=10, seed=2)
QUICK = {"epochs": 2, "batch_size": 8, "learning_rate": 0.05}
ENDLESS = {"epochs": 100000, "batch_size": 2, "learning_rate": 1e-4, "eval_each_epoch": False,
           "checkpoint_each_epoch": False}


def configure(state_dir: Path, name: str = "linker", **config: Any) -> None:
    configure_caikit(runtime=False)
    caikit.configure(config_dict={"model_management": {"trainers": {name: {
        "type": "MEDCAT_EMBEDDING_LINKER",
        "config": {"component_factory": TOY, "state_dir": str(state_dir), **config}}}}})


def wait_for(predicate: Any, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def den_ids(den: Any) -> set[str]:
    return {m.model_id for m in den.list_available_models()}


def test_thread_job_completes_pushes_lineage_and_is_found_by_id(den_models, tmp_path) -> None:
    configure(tmp_path / "state")
    devel_path = tmp_path / "devel.json"
    devel_path.write_text(json.dumps(DEVEL))
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=TRAIN, eval_data=str(devel_path),
                                 trainer_config=QUICK, name="tiny-ft", aliases=["candidate"])
    # routable: the id carries the (non-default) instance name
    assert future.id.split(":")[0] == ReversibleHasher.hash("linker")
    found = MODEL_MANAGER.get_model_future(future.id)
    assert found.id == future.id
    assert found.wait(120)
    info = found.get_info()
    assert info.status == JobStatus.COMPLETED, info.errors
    assert info.step == info.max_steps > 0 and info.epoch == info.num_epochs == 2
    assert info.submission_time <= info.completion_time
    assert {"precision", "recall", "f1", "eval_loss"} <= set(info.final_metrics)

    den = den_models.den
    pushed = den.info(info.result_model_id)
    assert info.result_ref == pushed.ref == "den://tiny-ft/1"
    assert pushed.parents == [den_models.a.model_id]
    lineage = [m.model_id for m in den.lineage(pushed.model_id)]
    assert lineage[-1] == den_models.a.model_id
    assert set(lineage) <= {pushed.model_id, den_models.a.model_id}
    assert "candidate" in pushed.aliases
    meta = pushed.metadata["training"]
    assert meta["data_fingerprint"] == {"train": fingerprint(TRAIN),
                                        "eval": fingerprint(load_export(devel_path))}
    assert meta["data_sources"] == {"train": "in-memory export", "eval": str(devel_path)}
    assert meta["trainer_config"]["epochs"] == 2 and meta["trainer_config"]["batch_size"] == 8
    assert meta["metrics"] == info.final_metrics and meta["job_id"] == future.id
    assert meta["base_model"] == den_models.a.model_id

    model = future.load()
    assert isinstance(model, MedCATModule) and model.den_model_id == pushed.model_id
    with den.materialise(pushed.model_id) as pack:  # the trained weights are in the pack
        assert (Path(pack) / "toy_linker_state.pt").is_file()
    assert not (tmp_path / "state" / "jobs" / future.id.split(":")[1]).exists()  # scratch gone

    # a fresh trainer instance (the first one is gone) finds the job through its record
    MODEL_MANAGER._trainers.clear()
    again = MODEL_MANAGER.get_model_future(future.id)
    assert again is not found and again.get_info().status == JobStatus.COMPLETED
    assert again.get_info().result_model_id == pushed.model_id
    assert again.load().den_model_id == pushed.model_id
    with pytest.raises(CaikitCoreException) as missing:
        MODEL_MANAGER.get_model_future(ReversibleHasher.hash("linker") + ":" + "0" * 32)
    assert missing.value.status_code == CaikitCoreStatusCode.NOT_FOUND
    assert "Unknown training_id" in missing.value.message


def test_subprocess_job_completes_with_progress(den_models, tmp_path) -> None:
    configure(tmp_path / "state", name="sub", use_subprocess=True)
    put = put_dataset(den_models.den, "datasets/toy/train.json",
                      _write(tmp_path / "train.json", TRAIN))
    future = MODEL_MANAGER.train(MedCATModule, trainer="sub", base_model=den_models.a.model_id,
                                 train_data=put, eval_data=DEVEL, trainer_config=QUICK)
    assert future.wait(180)
    info = future.get_info()
    assert info.status == JobStatus.COMPLETED, info.errors
    assert info.worker_pid is not None and info.worker_pid != os.getpid()
    assert info.step == info.max_steps and info.metrics  # progress came back from the child
    pushed = den_models.den.info(info.result_model_id)
    assert pushed.name == "tiny-finetuned" and pushed.parents == [den_models.a.model_id]
    assert pushed.metadata["training"]["data_fingerprint"]["train"] == fingerprint(TRAIN)
    assert pushed.metadata["training"]["data_sources"]["train"] == put


@pytest.mark.parametrize("use_subprocess", [False, True])
def test_cancel_mid_epoch_leaves_den_unchanged(den_models, tmp_path, use_subprocess) -> None:
    configure(tmp_path / "state", use_subprocess=use_subprocess)
    before = den_ids(den_models.den)
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=ENDLESS, name="never")
    wait_for(lambda: future.get_info().step > 3, 120, "training steps")
    future.cancel()
    assert future.get_info().status == JobStatus.CANCELED  # at once
    assert future.wait(120), "the worker did not stop"
    assert future.get_info().status == JobStatus.CANCELED
    with pytest.raises(TrainingCanceledError):
        future.load()
    assert den_ids(den_models.den) == before
    assert not (tmp_path / "state" / "jobs" / future.id.split(":")[1]).exists()


def test_sigkilled_training_subprocess_is_errored_and_den_unchanged(den_models, tmp_path) -> None:
    configure(tmp_path / "state", use_subprocess=True)
    before = den_ids(den_models.den)
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=ENDLESS)
    wait_for(lambda: future.get_info().step > 0, 120, "training steps")
    os.kill(future.get_info().worker_pid, signal.SIGKILL)
    assert future.wait(120)
    info = future.get_info()
    assert info.status == JobStatus.ERRORED
    assert "killed by SIGKILL" in str(info.errors[0])
    with pytest.raises(TrainingError, match="SIGKILL"):
        future.load()
    assert den_ids(den_models.den) == before


def test_malformed_and_missing_data_error_fast_with_the_problem(den_models, tmp_path) -> None:
    configure(tmp_path / "state")
    bad = copy.deepcopy(TRAIN)
    bad["projects"][0]["documents"][3]["annotations"][0]["end"] = 10_000
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=bad, trainer_config=QUICK)
    assert future.wait(120)
    info = future.get_info()
    assert info.status == JobStatus.ERRORED
    assert "documents[3].annotations[0]: span" in str(info.errors[0])
    assert "out of range" in str(info.errors[0])

    missing = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                  train_data=str(tmp_path / "nope.json"))
    assert missing.wait(120)
    assert "training data file not found" in str(missing.get_info().errors[0])

    unknown_cui = copy.deepcopy(TRAIN)
    unknown_cui["projects"][0]["documents"][0]["annotations"][0]["cui"] = "C404"
    job = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                              train_data=unknown_cui)
    assert job.wait(120)
    assert "'C404' is not in the model's concept database" in str(job.get_info().errors[0])

    no_base = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://nope",
                                  train_data=TRAIN)
    assert no_base.wait(120)
    assert "nope" in str(no_base.get_info().errors[0])
    assert den_ids(den_models.den) == {den_models.a.model_id, den_models.b.model_id}


def test_default_factory_refuses_a_pack_without_a_trainable_linker(den_models, tmp_path) -> None:
    configure(tmp_path / "state", component_factory=None)
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=TRAIN)
    assert future.wait(120)
    assert future.get_info().status == JobStatus.ERRORED
    assert "is not trainable" in str(future.get_info().errors[0])


def test_max_workers_queue_and_cancel_queued(den_models, tmp_path) -> None:
    configure(tmp_path / "state", max_workers=1)
    first = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                train_data=TRAIN, trainer_config=ENDLESS)
    second = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=ENDLESS)
    third = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                train_data=TRAIN, trainer_config=ENDLESS)
    wait_for(lambda: first.get_info().status == JobStatus.RUNNING, 120, "first job running")
    assert second.get_info().status == JobStatus.QUEUED
    second.cancel()
    assert second.get_info().status == JobStatus.CANCELED and second.wait(60)
    first.cancel()
    wait_for(lambda: third.get_info().status == JobStatus.RUNNING, 120, "third job running")
    third.cancel()
    assert third.wait(120) and first.wait(120)
    trainer = MODEL_MANAGER.get_trainer("linker")
    assert [r.status for r in trainer.list_jobs()] == ["CANCELED"] * 3


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _run_py(code: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, text=True,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def test_other_processes_cancel_and_see_interrupted_jobs(den_models, tmp_path) -> None:
    state = tmp_path / "state"
    configure(state)
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=ENDLESS)
    wait_for(lambda: future.get_info().step > 0, 120, "training steps")
    # another process cancels it through the shared state dir
    canceller = _run_py(
        "from medcat_den.caikit.trainers import MedCATEmbeddingLinkerTrainer as T\n"
        f"f = T({{'state_dir': {str(state)!r}}}, 'other').get_model_future({future.id!r})\n"
        "print(f.get_info().status.name); f.cancel()")
    out, err = canceller.communicate(timeout=120)
    assert canceller.returncode == 0, err
    assert out.strip() == "RUNNING"
    assert future.wait(120)
    assert future.get_info().status == JobStatus.CANCELED

    # a process that owned a running job dies: the job reads as ERRORED (interrupted)
    data = _write(tmp_path / "t.json", TRAIN)
    owner = _run_py(
        "import json, sys, time, caikit\n"
        "from medcat_den.caikit import MedCATModule\n"
        "from medcat_den.caikit.trainers import MedCATEmbeddingLinkerTrainer as T\n"
        f"t = T({{'state_dir': {str(state)!r}, 'component_factory': {TOY!r}}}, 'owner')\n"
        f"f = t.train(MedCATModule, base_model='den://tiny', train_data={str(data)!r},"
        f" trainer_config={ENDLESS!r})\n"
        "print(f.id, flush=True)\n"
        "deadline = time.monotonic() + 120\n"
        "while f.get_info().step < 1 and time.monotonic() < deadline: time.sleep(0.05)\n"
        "print('running', flush=True); time.sleep(600)\n")
    assert owner.stdout is not None
    job_id = owner.stdout.readline().strip()
    assert owner.stdout.readline().strip() == "running", owner.stderr.read() if owner.stderr else ""
    owner.send_signal(signal.SIGKILL)
    owner.wait(30)
    MODEL_MANAGER._trainers.clear()
    lost = MedCATEmbeddingLinkerTrainer({"state_dir": str(state)}, "fresh").get_model_future(job_id)
    info = lost.get_info()
    assert info.status == JobStatus.ERRORED
    assert "interrupted" in str(info.errors[0]) and "nothing was pushed" in str(info.errors[0])
    assert den_ids(den_models.den) == {den_models.a.model_id, den_models.b.model_id}


def test_import_class_config_in_fresh_interpreter(tmp_path) -> None:
    cfg = tmp_path / "trainers.yml"
    cfg.write_text(
        "model_management:\n  trainers:\n    mine:\n      type: MEDCAT_EMBEDDING_LINKER\n"
        "      import_class: medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer\n"
        f"      config:\n        state_dir: {tmp_path / 'state'}\n        max_workers: 2\n")
    proc = _run_py(
        "import sys, caikit\n"
        f"caikit.configure({str(cfg)!r})\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'medcat_den']\n"
        "from caikit.core import MODEL_MANAGER\n"
        "t = MODEL_MANAGER.get_trainer('mine')\n"
        "print(type(t).name, t.instance_name)")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["MEDCAT_EMBEDDING_LINKER", "mine"]


def test_config_and_argument_errors(den_models, tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown config keys"):
        MedCATEmbeddingLinkerTrainer({"state_dir": str(tmp_path), "bogus": 1}, "x")
    with pytest.raises(ConfigError, match="max_workers"):
        MedCATEmbeddingLinkerTrainer({"state_dir": str(tmp_path), "max_workers": 0}, "x")
    with pytest.raises(ConfigError, match="cannot import component_factory"):
        MedCATEmbeddingLinkerTrainer({"state_dir": str(tmp_path),
                                      "component_factory": "no.such:thing"}, "x")
    with pytest.raises(ConfigError, match="epochs"):
        MedCATEmbeddingLinkerTrainer({"state_dir": str(tmp_path),
                                      "trainer_config": {"epochs": -1}}, "x")
    t = MedCATEmbeddingLinkerTrainer({"state_dir": str(tmp_path), "component_factory": TOY}, "x")
    with pytest.raises(ConfigError, match="base_model"):
        t.train(MedCATModule, train_data=TRAIN)
    with pytest.raises(ConfigError, match="train_data"):
        t.train(MedCATModule, base_model="den://tiny")
    with pytest.raises(ConfigError, match="unknown training arguments: lr"):
        t.train(MedCATModule, base_model="den://tiny", train_data=TRAIN, lr=0.1)
    with pytest.raises(ConfigError, match="learning_rate"):
        t.train(MedCATModule, base_model="den://tiny", train_data=TRAIN,
                trainer_config={"learning_rate": 0})
    with pytest.raises(ConfigError, match="Bad Name!") as bad_name:
        t.train(MedCATModule, base_model="den://tiny", train_data=TRAIN, name="Bad Name!")
    assert bad_name.value.status_code == CaikitCoreStatusCode.INVALID_ARGUMENT  # HTTP 400
    assert t.list_jobs() == []


@pytest.fixture()
def s3_server() -> Any:
    from tests.helpers.s3 import start_server

    yield from start_server()


def test_training_data_from_s3(den_models, tmp_path, s3_server) -> None:
    import boto3

    bucket = s3_server.new_bucket()
    boto3.client("s3").put_object(Bucket=bucket, Key="data/train.json",
                                  Body=json.dumps(TRAIN).encode())
    configure(tmp_path / "state")
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                 train_data=f"s3://{bucket}/data/train.json",
                                 trainer_config=QUICK, name="tiny-s3")
    assert future.wait(120)
    info = future.get_info()
    assert info.status == JobStatus.COMPLETED, info.errors
    meta = den_models.den.info(info.result_model_id).metadata["training"]
    assert meta["data_fingerprint"]["train"] == fingerprint(TRAIN)
    assert meta["data_sources"]["train"] == f"s3://{bucket}/data/train.json"

    missing = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://tiny",
                                  train_data=f"s3://{bucket}/nope.json")
    assert missing.wait(60)
    assert missing.get_info().status == JobStatus.ERRORED
    assert f"cannot read training data s3://{bucket}/nope.json: NoSuchKey" in str(
        missing.get_info().errors[0])

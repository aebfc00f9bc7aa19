"""The MEDCAT_RAY caikit trainer against a real local Ray head and a den on a real S3 API.

Most jobs fine-tune the real ToyLinker component (medcat_den.training.toy) on a real MedCAT
pack that the job reads from the S3 den by reference, and push their result there; the
real trainable embedding linker (tiny random BERT) is fine-tuned by a single-worker and
a two-worker job. That a data-parallel step equals a single-worker step is checked
exactly in tests/jobs/test_data_parallel.py.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from caikit.core import MODEL_MANAGER
from caikit.core.data_model import JobStatus
from caikit.core.exceptions.caikit_core_exception import CaikitCoreException
from caikit.core.toolkit.reversible_hasher import ReversibleHasher

from medcat_den.caikit import MedCATModule
from medcat_den.errors import ConfigError, TrainingCanceledError, TrainingError
from medcat_den.training import fingerprint
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS
from tests.helpers.ray import RayDen, configure, trainer_config
from tests.helpers.s3 import FAKE_KEY_ID, FAKE_SECRET
from tests.linking.conftest import make_export

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
TRAIN = make_toy_export(TINY_CONCEPTS, n_docs=30, seed=1)
DEVEL = make_toy_export(TINY_CONCEPTS, n_docs=10, seed=2)
QUICK = {"epochs": 3, "batch_size": 8, "learning_rate": 0.05}
LINKER_TRAIN = make_export(1, 40)
LINKER_DEVEL = make_export(2, 15)
# 2 epochs at lr 2e-2: devel F1 0.681 (base) -> 0.800, precision 0.517 -> 0.682 (4 at 5e-3 gave
# 0.795 / 0.690 at twice the time); the test asks for +0.03 F1 and any precision gain
LINKER_CONFIG = {"epochs": 2, "batch_size": 32, "learning_rate": 2e-2, "num_threads": 1,
                 "eval_each_epoch": False, "checkpoint_each_epoch": False}
ENDLESS = {"epochs": 100000, "batch_size": 2, "learning_rate": 1e-4, "eval_each_epoch": False,
           "checkpoint_each_epoch": False}


def wait_for(predicate: Any, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def den_ids(den: Any) -> set[str]:
    return {m.model_id for m in den.list_available_models()}


@pytest.fixture(scope="module")
def completed(ray_den: RayDen) -> dict[str, Any]:
    """One single-worker job run to completion (shared by several tests)."""
    configure(ray_den)
    future = MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                                 train_data=TRAIN, eval_data=DEVEL, trainer_config=QUICK,
                                 name="tiny-ray", aliases=["candidate"])
    assert future.wait(240)
    return {"future": future, "info": future.get_info()}


def test_job_completes_and_its_model_is_in_the_den(ray_den: RayDen, completed) -> None:
    future, info = completed["future"], completed["info"]
    assert info.status == JobStatus.COMPLETED, info.errors
    assert info.ray_status == "SUCCEEDED"
    # one Ray job per training, submission id = the caikit training id (routable)
    assert future.id.split(":")[0] == ReversibleHasher.hash("ray")
    assert info.epoch == info.num_epochs == 3 and info.step == info.max_steps > 0
    assert {"precision", "recall", "f1", "eval_loss"} <= set(info.final_metrics)
    assert info.submission_time <= info.completion_time

    den = ray_den.den
    pushed = den.info(info.result_model_id)
    assert info.result_ref == pushed.ref and pushed.name == "tiny-ray"
    assert "candidate" in pushed.aliases
    assert pushed.parents == [ray_den.base.model_id]
    meta = pushed.metadata["training"]
    assert meta["job_id"] == future.id and meta["base_model"] == ray_den.base.model_id
    assert meta["data_fingerprint"] == {"train": fingerprint(TRAIN), "eval": fingerprint(DEVEL)}
    # the data went by reference through the den, content-addressed by its fingerprint
    assert meta["data_sources"]["train"] == \
        f"den-data://datasets/sha256/{fingerprint(TRAIN)}.json"
    assert meta["metrics"] == info.final_metrics

    model = future.load()
    assert isinstance(model, MedCATModule) and model.den_model_id == pushed.model_id
    with den.materialise(pushed.model_id) as pack:
        assert (Path(pack) / "toy_linker_state.pt").is_file()

    # nothing secret went to the cluster: not in the job's env, metadata or entrypoint
    from ray.job_submission import JobSubmissionClient

    job = JobSubmissionClient(ray_den.head.dashboard_url).get_job_info(future.id)
    shown = json.dumps({"env": job.runtime_env, "meta": job.metadata,
                        "entry": job.entrypoint}, default=str)
    assert FAKE_SECRET not in shown and FAKE_KEY_ID not in shown
    assert job.runtime_env["env_vars"]["MEDCAT_DEN_REMOTE_HOST"] == ray_den.url
    assert '"projects"' not in shown  # no data in the job's environment


def test_lookup_by_id_from_a_fresh_process(ray_den: RayDen, completed) -> None:
    future, info = completed["future"], completed["info"]
    script = (
        "import json, caikit, medcat_den.caikit.trainers.ray_trainer\n"
        "from caikit.core import MODEL_MANAGER\n"
        "from medcat_den.caikit.server import configure_caikit\n"
        "configure_caikit(runtime=False)\n"
        f"caikit.configure(config_dict={{'model_management': {{'trainers': {{'ray': {{"
        f"'type': 'MEDCAT_RAY', 'config': {trainer_config(ray_den)!r}}}}}}}}})\n"
        f"f = MODEL_MANAGER.get_model_future({future.id!r})\n"
        "assert f.wait(30)\n"
        "i = f.get_info()\n"
        "m = f.load()\n"
        "print(json.dumps({'status': i.status.name, 'model': i.result_model_id,"
        " 'loaded': m.den_model_id}))\n"
        "try:\n"
        f"    MODEL_MANAGER.get_model_future({future.id.split(':')[0] + ':' + '0' * 32!r})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    seen = json.loads(lines[-2])
    assert seen == {"status": "COMPLETED", "model": info.result_model_id,
                    "loaded": info.result_model_id}
    assert lines[-1] == "CaikitCoreException"


def test_cancel_stops_the_job_checkpoints_and_pushes_nothing(ray_den: RayDen, tmp_path) -> None:
    configure(ray_den, checkpoint_dir=str(tmp_path / "ckpt"))
    before = den_ids(ray_den.den)
    future = MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=ENDLESS, name="tiny-endless")
    wait_for(lambda: future.get_info().step > 0, what="training steps")
    assert future.get_info().status == JobStatus.RUNNING
    future.cancel()
    assert future.wait(60)
    info = future.get_info()
    assert info.status == JobStatus.CANCELED and info.ray_status == "STOPPED"
    assert isinstance(info.errors[0], TrainingCanceledError)
    # the loop used the grace period to checkpoint the step it was on
    assert info.checkpoint is not None
    assert (Path(info.checkpoint) / "trainable.pt").is_file()
    assert den_ids(ray_den.den) == before
    with pytest.raises(TrainingCanceledError):
        future.load()

    # a new job continues from that checkpoint (here for one more second of training)
    step = int(Path(info.checkpoint).name.split("-")[1])
    resumed = MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                                  train_data=TRAIN, trainer_config={**ENDLESS, "time_limit_s": 1},
                                  name="tiny-endless", resume_from=info.checkpoint)
    assert resumed.wait(120)
    again = resumed.get_info()
    assert again.status == JobStatus.COMPLETED, again.errors
    meta = ray_den.den.info(again.result_model_id).metadata["training"]
    assert meta["steps"] > step and "time limit" in meta["stop_reason"]


def test_failing_job_is_errored_with_its_message(ray_den: RayDen) -> None:
    # the remote den's policy, enforced on the node: fine-tuning its models is refused
    configure(ray_den, runtime_env={"env_vars": {
        "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE": "false"}})
    before = den_ids(ray_den.den)
    future = MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=QUICK)
    assert future.wait(180)
    info = future.get_info()
    assert info.status == JobStatus.ERRORED and info.ray_status == "FAILED"
    message = str(info.errors[0])
    assert "refusing to fine-tune" in message and "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE" \
        in message
    assert "--- log tail ---" in message
    assert den_ids(ray_den.den) == before
    with pytest.raises(TrainingError, match="refusing to fine-tune"):
        future.load()


def test_two_concurrent_jobs(ray_den: RayDen) -> None:
    configure(ray_den)
    # each job trains for 10 s (time limit), so the cluster running both at once shows as
    # both training at the same time for seconds, not in one lucky poll
    config = {**ENDLESS, "time_limit_s": 10}
    futures = [MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                                   train_data=TRAIN, trainer_config={**config, "seed": seed},
                                   name=f"tiny-conc-{seed}") for seed in (1, 2)]
    assert futures[0].id != futures[1].id

    def both_training() -> bool:
        infos = [f.get_info() for f in futures]
        if any(i.ray_status in ("SUCCEEDED", "FAILED", "STOPPED") for i in infos):
            raise AssertionError(f"a job ended before both were training: {infos}")
        return all(i.ray_status == "RUNNING" and i.step > 0 for i in infos)

    wait_for(both_training, 180, "both jobs training at once")
    for f in futures:
        assert f.wait(240)
    infos = [f.get_info() for f in futures]
    assert [i.status for i in infos] == [JobStatus.COMPLETED] * 2, [i.errors for i in infos]
    assert infos[0].result_model_id != infos[1].result_model_id
    assert {ray_den.den.info(i.result_model_id).name for i in infos} == \
        {"tiny-conc-1", "tiny-conc-2"}


@pytest.fixture(scope="module")
def linker_runs(ray_den: RayDen, linker_base: Any) -> dict[Any, Any]:
    """The real trainable linker fine-tuned by a single-worker and a two-worker Ray job,
    submitted together (they share the cluster): their infos, and the base's metrics."""
    configure(ray_den, component_factory=None, name="ray-linker")
    futures = {workers: MODEL_MANAGER.train(
        MedCATModule, trainer="ray-linker", base_model="den://toy-linker",
        train_data=LINKER_TRAIN, eval_data=LINKER_DEVEL, trainer_config=LINKER_CONFIG,
        name=f"toy-linker-ray{workers}", num_workers=workers) for workers in (1, 2)}
    from medcat_den.linking import evaluate

    runs: dict[Any, Any] = {"base": evaluate(ray_den.den.fetch_model(linker_base.model_id),
                                             LINKER_DEVEL)}
    for workers, future in futures.items():
        assert future.wait(300)
        runs[workers] = future.get_info()
    return runs


@pytest.mark.parametrize("workers", [1, 2])
def test_real_linker_fine_tuned_on_ray(ray_den: RayDen, linker_base: Any,
                                       linker_runs: dict[Any, Any], workers: int) -> None:
    from medcat_den.linking import evaluate

    info = linker_runs[workers]
    assert info.status == JobStatus.COMPLETED, info.errors
    pushed = ray_den.den.info(info.result_model_id)
    assert pushed.parents == [linker_base.model_id]
    meta = pushed.metadata["training"]
    assert meta["trainer_config"].get("num_workers", 1) == workers
    assert meta["steps"] == info.max_steps > 0
    # the pushed model links differently from its base where the annotations say it should
    before = linker_runs["base"]
    after = evaluate(ray_den.den.fetch_model(pushed.model_id), LINKER_DEVEL)
    assert after["f1"] > before["f1"] + 0.03, (before, after)
    assert after["precision"] > before["precision"]
    assert math.isfinite(info.final_metrics["eval_loss"])


def test_config_is_validated_without_a_cluster(ray_den: RayDen) -> None:
    from medcat_den.caikit.server import configure_caikit
    from medcat_den.caikit.trainers.ray_trainer import MedCATRayTrainer

    # the shipped overlay builds the trainer through import_class, without starting Ray
    configure_caikit([REPO / "config" / "ray.yml"])
    assert type(MODEL_MANAGER.get_trainer("ray")) is MedCATRayTrainer
    MODEL_MANAGER._trainers.clear()  # (that instance has no address: it would start a head)

    with pytest.raises(ConfigError, match="unknown config keys"):
        MedCATRayTrainer({"adress": "http://x"}, "bad")
    with pytest.raises(ConfigError, match="credential"):
        MedCATRayTrainer({"forward_env": ["AWS_SECRET_ACCESS_KEY"]}, "bad")
    with pytest.raises(ConfigError, match="credential"):
        MedCATRayTrainer({"runtime_env": {"env_vars": {"AWS_SESSION_TOKEN": "x"}}}, "bad")
    with pytest.raises(ConfigError, match="num_workers"):
        MedCATRayTrainer({"num_workers": 0}, "bad")
    configure(ray_den)
    with pytest.raises(ConfigError, match="no annotations|projects"):
        MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                            train_data={"projects": []})
    with pytest.raises(CaikitCoreException):
        MODEL_MANAGER.get_model_future(ReversibleHasher.hash("ray") + ":" + "f" * 32)


@pytest.mark.slow
def test_cancel_a_two_worker_run_stops_every_worker_after_one_step(ray_den: RayDen,
                                                                   tmp_path) -> None:
    configure(ray_den, num_workers=2, checkpoint_dir=str(tmp_path / "ckpt"))
    before = den_ids(ray_den.den)
    future = MODEL_MANAGER.train(MedCATModule, trainer="ray", base_model="den://tiny",
                                 train_data=TRAIN, trainer_config=ENDLESS, name="tiny-dp-stop")
    wait_for(lambda: future.get_info().step > 0, what="training steps")
    future.cancel()
    assert future.wait(90)
    info = future.get_info()
    assert info.status == JobStatus.CANCELED, info.errors
    # the stop travelled with the gradients: rank 0 checkpointed, nobody hung or pushed
    assert info.checkpoint is not None and "rank0" in info.checkpoint
    assert (Path(info.checkpoint) / "trainable.pt").is_file()
    assert den_ids(ray_den.den) == before

"""The training framework and the caikit trainers driving the real trainable embedding
linker (tiny random BERT built in the test; frozen LM, so epochs are fast): the local
trainer in a worker thread, in a training subprocess behind caikit runtime's HTTP
training route, and caikit's synchronous ``LOCAL`` path (``MedCATModule.train``). Every
pushed model must link the held-out toy export better than its base: the annotations
say which look-alike mentions are not concepts, and training teaches the linker that.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import caikit
import pytest
import requests
from caikit.core import MODEL_MANAGER
from caikit.core.data_model import JobStatus

from medcat_den.caikit import MedCATModule
from medcat_den.caikit.server import DenHTTPServer, configure_caikit
from medcat_den.training import TrainableComponent, Trainer
from tests.conftest import write_concepts_csv
from tests.linking.conftest import CONCEPTS, LINKER_OVERRIDES, make_bert, make_export

from .conftest import free_port

# 2 epochs at lr 2e-2: devel F1 0.681 (base) -> 0.800, P 0.517 -> 0.682, eval loss 1.95 -> 0.42
# (4 at 5e-3 gave 0.795 at twice the time; 2 at 1e-2 0.747, at 3e-2 0.800); the tests ask for +0.03
CONFIG = {"epochs": 2, "batch_size": 32, "learning_rate": 2e-2, "num_threads": 1,
          "eval_each_epoch": False, "checkpoint_each_epoch": False}
TRAIN = make_export(1, 40)
DEVEL = make_export(2, 15)
TRAIN_ROUTE = "/api/v1/EntityLinkingTaskMedCATModuleTrain"
STATUS_ROUTE = "/management/trainings"


@pytest.fixture(scope="module")
def linker_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medcat_den.linking.builder import build_pack

    bert = make_bert(tmp_path_factory.mktemp("bert"), 32, 0)
    csv = write_concepts_csv(tmp_path_factory.mktemp("c") / "concepts.csv", CONCEPTS)
    return Path(build_pack(str(csv), str(tmp_path_factory.mktemp("pack")), trainable=True,
                           config_overrides={"embedding_model_name": str(bert),
                                             **LINKER_OVERRIDES}))


@pytest.fixture(scope="module")
def base_f1(linker_pack: Path) -> float:
    from medcat.cat import CAT

    from medcat_den.linking import evaluate

    return float(evaluate(CAT.load_model_pack(str(linker_pack)), DEVEL)["f1"])


def assert_links_better_than_base(den: Any, model_id: str, base_f1: float) -> None:
    from medcat_den.linking import evaluate

    after = evaluate(den.fetch_model(model_id), DEVEL)
    assert after["f1"] > base_f1 + 0.03, (base_f1, after)


def test_trainer_drives_the_real_linker(linker_pack: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.jobs.components import embedding_linker_component

    cat = CAT.load_model_pack(str(linker_pack))
    component = embedding_linker_component(cat, str(linker_pack))
    assert isinstance(component, TrainableComponent)
    trainer = Trainer(component, CONFIG, progress=False)
    before = trainer.evaluate(DEVEL)
    result = trainer.fit(TRAIN, DEVEL)
    assert result.metrics["f1"] > before["f1"]
    assert result.metrics["eval_loss"] < before["eval_loss"]
    assert math.isfinite(result.metrics["eval_loss"])


def test_caikit_job_fine_tunes_the_linker_in_the_den(isolated_env: Path, linker_pack: Path,
                                                      base_f1: float) -> None:
    from medcat_den.den import get_default_den

    den = get_default_den()
    base = den.push_model(str(linker_pack), name="toy-linker")
    configure_caikit(runtime=False)
    caikit.configure(config_dict={"model_management": {"trainers": {"linker": {
        "type": "MEDCAT_EMBEDDING_LINKER", "config": {}}}}})
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://toy-linker",
                                 train_data=TRAIN, eval_data=DEVEL, trainer_config=CONFIG,
                                 name="toy-linker-ft")
    assert future.wait(300)
    info = future.get_info()
    assert info.status == JobStatus.COMPLETED, info.errors
    pushed = den.info(info.result_model_id)
    assert pushed.parents == [base.model_id]
    assert pushed.metadata["training"]["metrics"]["f1"] == info.final_metrics["f1"]
    assert_links_better_than_base(den, pushed.model_id, base_f1)
    model = future.load()
    assert isinstance(model, MedCATModule)
    assert model.run("the patient was diagnosed with asthma last year .").entities

    # the synchronous path caikit's LOCAL trainer takes (MedCATModule.train)
    data = isolated_env / "train.json"
    data.write_text(json.dumps(TRAIN))
    sync = MedCATModule.train("den://toy-linker", str(data), trainer_config=CONFIG,
                              name="toy-linker-sync")
    assert isinstance(sync, MedCATModule)
    assert den.info(sync.den_model_id).parents == [base.model_id]
    assert den.info("den://toy-linker-sync").model_id == sync.den_model_id
    assert_links_better_than_base(den, sync.den_model_id, base_f1)


def _wait_state(url: str, training_id: str, states: set[str],
                timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(url + STATUS_ROUTE, params={"training_id": training_id}, timeout=30)
        assert r.status_code == 200, r.text
        if r.json()["state"] in states:
            return dict(r.json())
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.2)


def test_http_training_route_trains_the_linker_in_a_subprocess(
        isolated_env: Path, linker_pack: Path, base_f1: float, tmp_path: Path) -> None:
    from medcat_den.den import get_default_den

    den = get_default_den()
    base = den.push_model(str(linker_pack), name="toy-linker")
    train, devel = tmp_path / "train.json", tmp_path / "devel.json"
    train.write_text(json.dumps(TRAIN))
    devel.write_text(json.dumps(DEVEL))
    overrides = {
        "model_management": {"trainers": {"default": {
            "type": "MEDCAT_EMBEDDING_LINKER",
            "config": {"use_subprocess": True, "state_dir": str(tmp_path / "state")}}}},
        "runtime": {"training": {"output_dir": str(tmp_path / "unused-output")}},
    }
    server = DenHTTPServer(port=free_port(), overrides=overrides)
    server.start()
    try:
        r = requests.post(server.url + TRAIN_ROUTE, timeout=60, json={
            "model_name": "toy-linker-http",
            "parameters": {"base_model": "den://toy-linker", "train_data": str(train),
                           "eval_data": str(devel), "trainer_config": CONFIG}})
        assert r.status_code == 200, r.text
        done = _wait_state(server.url, r.json()["training_id"],
                           {"COMPLETED", "ERRORED", "CANCELED"})
        assert done["state"] == "COMPLETED", done
        pushed = den.info("den://toy-linker-http")
        assert pushed.parents == [base.model_id]
        # the job ran in a child process (its record names the worker pid)
        trainer = MODEL_MANAGER.get_trainer("default")
        (record,) = [j for j in trainer.list_jobs() if j.result_model_id == pushed.model_id]
        assert record.use_subprocess and record.worker_pid
        assert_links_better_than_base(den, pushed.model_id, base_f1)
        r = requests.post(server.url + "/api/v1/task/entity-linking", timeout=120, json={
            "model_id": "den://toy-linker-http",
            "inputs": "the patient was diagnosed with asthma last year ."})
        assert r.status_code == 200, r.text
        assert r.json()["model_id"] == pushed.model_id
        assert "C03" in [e["cui"] for e in r.json()["entities"]]
    finally:
        server.stop()
    assert not (tmp_path / "unused-output").exists()  # nothing written outside the den

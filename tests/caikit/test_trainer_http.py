"""caikit runtime HTTP: training request → status → the trained model served by its den ref."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

from medcat_den.caikit import MedCATModule
from medcat_den.caikit.server import DenHTTPServer
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS

from .conftest import free_port

TRAIN_ROUTE = "/api/v1/EntityLinkingTaskMedCATModuleTrain"
STATUS_ROUTE = "/management/trainings"


def _status(url: str, training_id: str) -> dict[str, Any]:
    r = requests.get(url + STATUS_ROUTE, params={"training_id": training_id}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _wait_state(url: str, training_id: str, states: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = _status(url, training_id)
        if body["state"] in states:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_http_training_status_cancel_and_serving_the_result(den_models, tmp_path: Path) -> None:
    assert "train" in MedCATModule.__dict__, (
        "MedCATModule.train is not wired: caikit needs the train classmethod in "
        "medcat_den/caikit/module.py")
    train = tmp_path / "train.json"
    train.write_text(json.dumps(make_toy_export(TINY_CONCEPTS, n_docs=30, seed=1)))
    devel = tmp_path / "devel.json"
    devel.write_text(json.dumps(make_toy_export(TINY_CONCEPTS, n_docs=10, seed=2)))
    overrides = {
        "model_management": {"trainers": {"default": {
            "type": "MEDCAT_EMBEDDING_LINKER",
            "import_class": "medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer",
            "config": {"component_factory": "medcat_den.training.toy:toy_component_factory",
                       "state_dir": str(tmp_path / "state")}}}},
        "runtime": {"training": {"output_dir": str(tmp_path / "unused-output")}},
    }
    server = DenHTTPServer(port=free_port(), overrides=overrides)
    server.start()
    try:
        r = requests.post(server.url + TRAIN_ROUTE, timeout=60, json={
            "model_name": "tiny-http",
            "parameters": {"base_model": "den://tiny", "train_data": str(train),
                           "eval_data": str(devel), "aliases": ["candidate"],
                           "trainer_config": {"epochs": 2, "batch_size": 8,
                                              "learning_rate": 0.05}}})
        assert r.status_code == 200, r.text
        training_id = r.json()["training_id"]
        done = _wait_state(server.url, training_id, {"COMPLETED", "ERRORED", "CANCELED"})
        assert done["state"] == "COMPLETED", done
        assert done["completion_timestamp"] >= done["submission_timestamp"]

        pushed = den_models.den.info("den://tiny-http")
        assert pushed.parents == [den_models.a.model_id] and "candidate" in pushed.aliases
        assert not (tmp_path / "unused-output").exists()  # nothing written outside the den
        r = requests.post(server.url + "/api/v1/task/entity-linking", timeout=120,
                          json={"model_id": "den://tiny-http@candidate",
                                "inputs": "asthma and heart failure"})
        assert r.status_code == 200, r.text
        assert r.json()["model_id"] == pushed.model_id
        assert [e["cui"] for e in r.json()["entities"]] == ["C0004096", "C0018801"]

        # a long job is canceled through caikit's training-management route
        r = requests.post(server.url + TRAIN_ROUTE, timeout=60, json={
            "model_name": "never", "parameters": {
                "base_model": "den://tiny", "train_data": str(train),
                "trainer_config": {"epochs": 100000, "batch_size": 2,
                                   "eval_each_epoch": False, "checkpoint_each_epoch": False}}})
        assert r.status_code == 200, r.text
        long_id = r.json()["training_id"]
        _wait_state(server.url, long_id, {"RUNNING"})
        r = requests.delete(server.url + STATUS_ROUTE, params={"training_id": long_id},
                            timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "CANCELED"
        assert _status(server.url, long_id)["state"] == "CANCELED"

        # malformed request parameters are refused at once
        r = requests.post(server.url + TRAIN_ROUTE, timeout=60, json={
            "model_name": "bad", "parameters": {"base_model": "den://tiny",
                                                "train_data": str(train),
                                                "trainer_config": {"epochs": 0}}})
        assert r.status_code == 400, r.text
        assert "epochs" in r.text
        r = requests.get(server.url + STATUS_ROUTE, params={"training_id": "nope:" + "0" * 32},
                         timeout=30)
        assert r.status_code == 404, r.text
    finally:
        server.stop()
    assert {m.name for m in den_models.den.list_available_models()} == {
        "tiny", "tiny-b", "tiny-http"}

"""A real caikit runtime gRPC server on loopback, called by a client that knows only reflection.

The client (``grpc_reflection_client.py``) runs in ``python -I`` and imports grpcio, grpc_reflection
and protobuf only; it reports what it imported and the tests check caikit / medcat_den are absent.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from medcat_den.caikit.server import DenServer
from medcat_den.errors import ConfigError
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS

from .conftest import free_port

CLIENT = Path(__file__).with_name("grpc_reflection_client.py")
SERVICE = "caikit.runtime.MedcatDen.MedcatDenService"
TRAIN = "caikit.runtime.MedcatDen.MedcatDenTrainingService/EntityLinkingTaskMedCATModuleTrain"
STATUS = "caikit.runtime.training.TrainingManagement/GetTrainingStatus"
CANCEL = "caikit.runtime.training.TrainingManagement/CancelTraining"
DONE = ["COMPLETED", "ERRORED", "CANCELED"]


def reflection_client(address: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the calls in a fresh isolated interpreter; return one result per call."""
    proc = subprocess.run([sys.executable, "-I", str(CLIENT), address], input=json.dumps(calls),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    imported = set(lines[-1]["imported"])
    assert "grpc" in imported and not imported & {"caikit", "medcat_den", "tests", "medcat"}
    assert len(lines) == len(calls) + 1, lines
    return lines[:-1]


def listening_ips(port: int) -> set[str]:
    """Addresses this process listens on at ``port`` (gRPC's ``::ffff:a.b.c.d`` shown as a.b.c.d)."""
    process = psutil.Process()
    connections = getattr(process, "net_connections", process.connections)  # psutil < 6
    ips = set()
    for c in connections(kind="inet"):
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port:
            ip = ipaddress.ip_address(c.laddr.ip)
            ips.add(str(getattr(ip, "ipv4_mapped", None) or ip))
    return ips


def predict(method: str, ref: str, text: str) -> dict[str, Any]:
    return {"method": f"{SERVICE}/{method}", "request": {"text": text},
            "metadata": {"mm-model-id": ref}}


def test_grpc_serves_den_refs_to_a_reflection_only_client(den_models, tiny_pack: Path) -> None:
    from medcat.cat import CAT

    port = free_port()
    server = DenServer(grpc_port=port, http=False, preload=["den://tiny"])
    assert server.url == "" and server.grpc_address == f"127.0.0.1:{port}"
    server.start()
    try:
        assert listening_ips(port) == {"127.0.0.1"}  # not caikit's [::]
        text = "asthma and heart failure"
        health, services, linked, lazy, missing = reflection_client(server.grpc_address, [
            {"health": True}, {"services": True},
            predict("EntityLinkingTaskPredict", "den://tiny", text),
            predict("TokenClassificationTaskPredict", "den://tiny-b@production", "asthma"),
            predict("EntityLinkingTaskPredict", "den://no-such-model", text)])
    finally:
        server.stop()
    assert listening_ips(port) == set()

    assert health == {"response": {"status": "SERVING"}}
    assert {SERVICE, "caikit.runtime.training.TrainingManagement",
            "mmesh.ModelRuntime"} <= set(services["response"]["services"])

    expected = CAT.load_model_pack(str(tiny_pack)).get_entities(text)["entities"].values()
    body = linked["response"]
    # proto3 JSON: int64 as strings, zero values omitted
    assert [(e["cui"], e["text"], int(e.get("start", 0)), int(e["end"]))
            for e in body["entities"]] == [
        (e["cui"], e["source_value"], e["start"], e["end"]) for e in expected]
    assert [e["cui"] for e in body["entities"]] == ["C0004096", "C0018801"]
    assert body["model_id"] == den_models.a.model_id

    assert [t["entity"] for t in lazy["response"]["results"]] == ["C0004096"]  # loaded on use
    assert missing["code"] == "NOT_FOUND" and "den://no-such-model" in missing["details"]


def test_grpc_training_reaches_completed_and_lands_in_the_den(den_models, tmp_path: Path) -> None:
    train = tmp_path / "train.json"
    train.write_text(json.dumps(make_toy_export(TINY_CONCEPTS, n_docs=30, seed=1)))
    overrides = {
        "model_management": {"trainers": {"default": {
            "type": "MEDCAT_EMBEDDING_LINKER",
            "import_class": "medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer",
            "config": {"component_factory": "medcat_den.training.toy:toy_component_factory",
                       "state_dir": str(tmp_path / "state")}}}},
        "runtime": {"training": {"output_dir": str(tmp_path / "unused-output")}},
    }
    server = DenServer(grpc_port=free_port(), http=False, overrides=overrides)
    server.start()
    try:
        (submitted,) = reflection_client(server.grpc_address, [{"method": TRAIN, "request": {
            "model_name": "tiny-grpc",
            "parameters": {"base_model": "den://tiny", "train_data": str(train),
                           "aliases": ["candidate"],
                           "trainer_config": {"epochs": 2, "batch_size": 8,
                                              "learning_rate": 0.05}}}}])
        training_id = submitted["response"]["training_id"]
        (long_job,) = reflection_client(server.grpc_address, [{"method": TRAIN, "request": {
            "model_name": "never", "parameters": {
                "base_model": "den://tiny", "train_data": str(train),
                "trainer_config": {"epochs": 100000, "batch_size": 2, "eval_each_epoch": False,
                                   "checkpoint_each_epoch": False}}}}])
        long_id = long_job["response"]["training_id"]
        done, served, unknown, running, canceled, after = reflection_client(server.grpc_address, [
            {"method": STATUS, "request": {"training_id": training_id},
             "until": {"field": "state", "in": DONE}, "timeout": 180},
            predict("EntityLinkingTaskPredict", "den://tiny-grpc@candidate",
                    "asthma and heart failure"),
            {"method": STATUS, "request": {"training_id": "nope:" + "0" * 32}},
            {"method": STATUS, "request": {"training_id": long_id},
             "until": {"field": "state", "in": ["RUNNING", *DONE]}, "timeout": 120},
            {"method": CANCEL, "request": {"training_id": long_id}},
            {"method": STATUS, "request": {"training_id": long_id}}])
    finally:
        server.stop()
    assert done["response"]["state"] == "COMPLETED", done
    pushed = den_models.den.info("den://tiny-grpc")
    assert pushed.parents == [den_models.a.model_id] and "candidate" in pushed.aliases
    assert served["response"]["model_id"] == pushed.model_id
    assert [e["cui"] for e in served["response"]["entities"]] == ["C0004096", "C0018801"]
    assert unknown["code"] == "NOT_FOUND", unknown
    assert running["response"]["state"] == "RUNNING", running
    assert canceled["response"]["state"] == "CANCELED" == after["response"]["state"], canceled
    assert "never" not in {m.name for m in den_models.den.list_available_models()}
    assert not (tmp_path / "unused-output").exists()  # nothing written outside the den


def test_grpc_port_in_use_is_a_clear_error(den_models) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=str(port)):
            DenServer(grpc_port=port, http=False)


def test_options_win_over_env_and_env_enables_grpc(den_models, monkeypatch: pytest.MonkeyPatch) -> None:
    """caikit re-applies env on every configure: explicit arguments must still win."""
    http_port, grpc_port, env_grpc_port = free_port(), free_port(), free_port()
    monkeypatch.setenv("RUNTIME_HTTP_PORT", "1")
    monkeypatch.setenv("RUNTIME_GRPC_ENABLED", "false")
    server = DenServer(port=http_port, grpc_port=grpc_port)
    try:
        assert server.port == http_port and server._http.server.config.port == http_port
        assert server.grpc_address == f"127.0.0.1:{grpc_port}"
    finally:
        server.stop()
    monkeypatch.setenv("RUNTIME_GRPC_ENABLED", "true")
    monkeypatch.setenv("RUNTIME_GRPC_PORT", str(env_grpc_port))
    server = DenServer(http=False)  # gRPC from env alone
    try:
        assert server.url == "" and server.grpc_address == f"127.0.0.1:{env_grpc_port}"
    finally:
        server.stop()
    assert listening_ips(grpc_port) == listening_ips(env_grpc_port) == set()  # freed by stop()
    server = DenServer(http=False, grpc_port=grpc_port, host="0.0.0.0")  # exposing is explicit
    try:
        ips = listening_ips(grpc_port)  # gRPC makes 0.0.0.0 a dual-stack [::] socket
        assert ips and ips <= {"0.0.0.0", "::"}, ips
    finally:
        server.stop()
    monkeypatch.delenv("RUNTIME_GRPC_ENABLED")
    with pytest.raises(ConfigError, match="nothing to serve"):
        DenServer(http=False)

"""A real caikit runtime HTTP server on a free loopback port, started and stopped by the tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from caikit.runtime.model_management.model_manager import ModelManager as RuntimeModelManager

from medcat_den.caikit.server import DenHTTPServer

from .conftest import free_port
from .test_grpc_server import predict, reflection_client

REPO = Path(__file__).resolve().parents[2]
ROUTE = "/api/v1/task/entity-linking"


def test_runtime_http_serves_den_refs(den_models) -> None:
    port = free_port()
    server = DenHTTPServer(port=port, preload=["den://tiny"])
    assert server.url == f"http://127.0.0.1:{port}"
    assert server._server.server.config.host == "127.0.0.1"  # not caikit's 0.0.0.0
    loaded = RuntimeModelManager.get_instance().loaded_models
    assert list(loaded) == ["den://tiny"]  # loaded at start
    server.start()
    try:
        r = requests.post(server.url + ROUTE, timeout=60,
                          json={"model_id": "den://tiny", "inputs": "asthma and heart failure"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [(e["cui"], e["text"], e["start"], e["end"]) for e in body["entities"]] == [
            ("C0004096", "asthma", 0, 6), ("C0018801", "heart failure", 11, 24)]
        assert body["model_id"] == den_models.a.model_id

        # a ref that was not loaded at start is loaded on its first request
        assert "den://tiny-b@production" not in loaded
        r = requests.post(server.url + "/api/v1/task/token-classification", timeout=60,
                          json={"model_id": "den://tiny-b@production", "inputs": "asthma"})
        assert r.status_code == 200, r.text
        assert [t["entity"] for t in r.json()["results"]] == ["C0004096"]
        assert "den://tiny-b@production" in loaded

        r = requests.post(server.url + ROUTE, timeout=60,
                          json={"model_id": "den://no-such-model", "inputs": "asthma"})
        assert r.status_code == 404, r.text
        assert "den://no-such-model" in r.json()["details"]
        assert "den://no-such-model" not in loaded
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(server.url + ROUTE, timeout=5, json={"model_id": "den://tiny", "inputs": "x"})


def test_serve_command_in_fresh_interpreter(den_models, tmp_path: Path) -> None:
    """`serve` applies the NumPy-2 and protobuf shims itself, serves HTTP and gRPC together,
    and stops on SIGINT; ``python -m medcat_den.caikit`` imports the CLI's serve options only."""
    port, grpc_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCAT_DEN_")}
    env["PYTHONPATH"] = str(REPO)
    cmd = [sys.executable, "-X", "importtime", "-m", "medcat_den.caikit", "serve",
           "--port", str(port), "--grpc-port", str(grpc_port),
           "--den-type", "LOCAL_USER", "--den-path", str(den_models.root)]
    log = tmp_path / "serve.log"  # a file, not a pipe: -X importtime writes a lot
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=sink,
                                stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}{ROUTE}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                r = requests.post(url, timeout=30, json={"model_id": "den://tiny-b",
                                                         "inputs": "copd and cancer"})
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.3)
        assert r.status_code == 200, r.text
        assert [e["cui"] for e in r.json()["entities"]] == []  # tiny-b lacks both concepts
        r = requests.post(url, timeout=30, json={"model_id": "den://tiny", "inputs": "copd"})
        assert [e["cui"] for e in r.json()["entities"]] == ["C0024117"]
        (linked,) = reflection_client(f"127.0.0.1:{grpc_port}", [
            predict("EntityLinkingTaskPredict", "den://tiny", "copd")])
        assert [e["cui"] for e in linked["response"]["entities"]] == ["C0024117"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = log.read_text()
    assert proc.returncode == 0, out[-3000:]
    imported = {line.split("|")[-1].strip() for line in out.splitlines()
                if line.startswith("import time:")}
    assert "medcat_den.caikit.grpc_server" in imported
    assert {m for m in imported if m.startswith("medcat_den.cli")} == {
        "medcat_den.cli", "medcat_den.cli.serve_options"}


def test_cli_parser_does_not_import_caikit_or_torch() -> None:
    """Every ``medcat-den`` command builds the whole parser: ``serve`` must not pull caikit,
    the trainers and torch into it (~4 s per command)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = "from medcat_den.cli.main import build_parser; build_parser()"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "medcat_den.cli.serve_options" in imported  # through serve_cmd
    assert not imported & {"caikit", "torch", "medcat_den.caikit", "medcat_den.training"}


def test_serve_rejects_a_missing_preload_ref(den_models, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from medcat_den.cli import serve_cmd

    parser = argparse.ArgumentParser()
    serve_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--port", str(free_port()), "--model", "den://absent"])
    assert args.host == "127.0.0.1"
    assert args.func(args) == 2
    assert "den://absent" in capsys.readouterr().err

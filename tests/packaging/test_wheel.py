"""The built wheel serves: installed (not editable) into a fresh virtualenv outside the source tree.

The fresh venv reuses the test interpreter's installed dependencies through a ``.pth`` line naming
its site-packages (a plain path line: ``.pth`` files there, such as the editable install's finder,
are not run), gets the wheel with ``pip install --no-deps``, and runs with no ``PYTHONPATH`` from
a folder outside the repo. It must find its caikit config inside the package, print
``serve --help``, and answer one HTTP and one gRPC request.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import requests

from tests.caikit.conftest import free_port
from tests.caikit.test_grpc_server import predict, reflection_client

REPO = Path(__file__).resolve().parents[2]


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def build_wheel(out: Path, work: Path, env: dict[str, str]) -> Path:
    """Build from a copy of the sources, so the repo gets no build/ or egg-info."""
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "medcat_den", src / "medcat_den",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)], cwd=work, env=env)
    (wheel,) = out.glob("medcat_den-*.whl")
    return wheel


def fresh_venv(root: Path, env: dict[str, str], wheel: Path) -> Path:
    venv.create(root, with_pip=False, symlinks=True)
    py = root / "bin" / "python"
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=root, env=env).strip())
    (site / "reuse_installed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
         "--no-index", str(wheel)], cwd=root, env=env)
    return py


def test_wheel_installs_configures_and_serves(tmp_path: Path, tiny_pack: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("MEDCAT_DEN_", "CONFIG_FILES", "RUNTIME_"))}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    wheel = build_wheel(tmp_path / "dist", outside, env)
    py = fresh_venv(tmp_path / "venv", env, wheel)
    medcat_den_cli = py.parent / "medcat-den"

    where = run([str(py), "-c", (
        "import sys, medcat_den, medcat_den.caikit.server as s\n"
        "s.configure_caikit()\n"
        "import caikit\n"
        "assert caikit.get_config().runtime.library == 'medcat_den'\n"
        "assert not [m for m in sys.modules if 'editable' in m], 'editable finder leaked'\n"
        "print(medcat_den.__file__); print(s.BASE_CONFIG)")], cwd=outside, env=env)
    module_file, config_file = where.split()
    site = str(tmp_path / "venv")
    assert module_file.startswith(site) and config_file.startswith(site), where
    assert "serve" in run([str(medcat_den_cli), "serve", "--help"], cwd=outside, env=env)
    assert "--grpc-port" in run([str(py), "-m", "medcat_den.caikit", "serve", "--help"],
                                cwd=outside, env=env)

    den = tmp_path / "den"
    run([str(medcat_den_cli), "push", str(tiny_pack), "--name", "tiny"], cwd=outside,
        env={**env, "MEDCAT_DEN_TYPE": "LOCAL_USER", "MEDCAT_DEN_PATH": str(den)})
    port, grpc_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([str(medcat_den_cli), "serve", "--port", str(port),
                                 "--grpc-port", str(grpc_port), "--den-type", "LOCAL_USER",
                                 "--den-path", str(den)], cwd=str(outside), env=env,
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                r = requests.post(f"http://127.0.0.1:{port}/api/v1/task/entity-linking",
                                  json={"model_id": "den://tiny", "inputs": "asthma"}, timeout=60)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
        assert r.status_code == 200, r.text
        assert [e["cui"] for e in r.json()["entities"]] == ["C0004096"]
        (linked,) = reflection_client(f"127.0.0.1:{grpc_port}", [
            predict("EntityLinkingTaskPredict", "den://tiny", "asthma")])
        assert [e["cui"] for e in linked["response"]["entities"]] == ["C0004096"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]

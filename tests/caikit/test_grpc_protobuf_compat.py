"""caikit 0.29.1's missing runtime protobufs: gRPC fails without the guard, works with it, and the
guard leaves a caikit that ships the modules alone. Each case runs in a fresh interpreter (the
guard changes a package path for the life of the process). Also ``--dump-protos``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def fresh(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(REPO), env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_grpc_server_needs_the_guard_and_works_with_it() -> None:
    """Without the guard caikit's gRPC server cannot be imported; with it, it can, the package
    path only grew by our folder, and the shipped modules describe the ``.proto`` files of the
    installed caikit (same messages and services), so the copy cannot drift unnoticed."""
    out = fresh("""
        import importlib.util, json
        from pathlib import Path
        import caikit.runtime.protobufs as p
        result = {"needed": importlib.util.find_spec(
            "caikit.runtime.protobufs.model_runtime_pb2") is None}
        try:
            import caikit.runtime.grpc_server
        except ImportError as e:
            result["without"] = str(e)
        from medcat_den.caikit.protobuf_compat import SHIPPED_DIR, apply_protobuf_compat
        before = list(p.__path__)
        result["applied"] = [apply_protobuf_compat(), apply_protobuf_compat()]
        result["path_grew_by"] = [x for x in p.__path__ if x not in before]
        from caikit.runtime.grpc_server import RuntimeGRPCServer
        from caikit.runtime.protobufs import model_mesh_pb2, model_runtime_pb2, process_pb2
        result["shipped"] = str(SHIPPED_DIR)
        protos = Path(before[0]) / "protos"
        result["undeclared"] = []
        for module, proto in [(model_runtime_pb2, "model-runtime.proto"),
                              (model_mesh_pb2, "model-mesh.proto"), (process_pb2, "process.proto")]:
            text = (protos / proto).read_text()
            names = list(module.DESCRIPTOR.message_types_by_name) + list(
                module.DESCRIPTOR.services_by_name)
            result["undeclared"] += [n for n in names
                                     if f"message {n} " not in text and f"service {n} " not in text]
        print(json.dumps(result))
    """)
    result = json.loads(out)
    assert result["undeclared"] == []
    if not result["needed"]:
        assert result["applied"] == [False, False] and result["path_grew_by"] == []
        pytest.skip("this caikit ships its runtime protobufs: the guard is a no-op")
    assert result["without"].startswith("cannot import name 'model_runtime_pb2'")
    assert result["applied"] == [True, False]  # applied once
    assert result["path_grew_by"] == [result["shipped"]]


def test_guard_leaves_a_caikit_that_ships_the_modules_alone(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed_caikit_protobufs"
    fixed.mkdir()
    (fixed / "model_runtime_pb2.py").write_text("FROM_CAIKIT = True\n")
    out = fresh(f"""
        import caikit.runtime.protobufs as p
        p.__path__.insert(0, {str(fixed)!r})        # as if caikit shipped model_runtime_pb2
        before = list(p.__path__)
        from medcat_den.caikit.protobuf_compat import apply_protobuf_compat, needs_protobuf_compat
        print(needs_protobuf_compat(), apply_protobuf_compat(), list(p.__path__) == before)
        from caikit.runtime.protobufs import model_runtime_pb2
        print(model_runtime_pb2.FROM_CAIKIT)
    """)
    assert out.splitlines() == ["False False True", "True"]


def test_dump_protos_writes_the_served_services(isolated_env: Path, tmp_path: Path) -> None:
    from medcat_den.caikit.__main__ import main

    out = tmp_path / "protos"
    assert main(["serve", "--dump-protos", str(out)]) == 0
    texts = {p.name: p.read_text() for p in out.glob("*.proto")}
    everything = "\n".join(texts.values())
    for needle in ("service MedcatDenService", "rpc EntityLinkingTaskPredict",
                   "rpc TokenClassificationTaskPredict", "service MedcatDenTrainingService",
                   "service TrainingManagement", "message EntityLinkingResult",
                   "service ModelRuntime"):
        assert needle in everything, needle
    assert main(["serve", "--dump-protos", str(out)]) == 2  # never over existing files

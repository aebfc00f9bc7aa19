"""Real processes pushing at once into one local den.

The processes start together on a file signal (each reports ready, then waits
for the go file), not on a wall-clock time. Crash safety (SIGKILL at each stage
of a push) is in ``test_crash_points.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from medcat_den.den import Den
from medcat_den.storage.local import LocalFolderBackend
from tests.conftest import TINY_CONCEPTS, build_pack

PUSHER = r"""
import json, os, sys, time
from medcat_den.den import Den
from medcat_den.storage.local import LocalFolderBackend
den = Den(LocalFolderBackend(sys.argv[1]))
go = sys.argv[2]
packs = sys.argv[3:]
open(go + "." + str(os.getpid()), "w").close()  # ready
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no go signal within 120 s")
    time.sleep(0.002)
for pack in packs:
    info = den.push_model(pack, "concurrent", name="shared")
    print(json.dumps({"id": info.model_id, "version": info.version}), flush=True)
"""


def _run_together(den_root: Path, go: Path, packs: list[Path]) -> list[dict[str, object]]:
    """Start one pusher per pack, release them at once when all are ready, collect results."""
    env = dict(os.environ, TQDM_DISABLE="1")
    procs = [subprocess.Popen([sys.executable, "-c", PUSHER, str(den_root), str(go), str(p)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for p in packs]
    deadline = time.monotonic() + 120
    while (len(list(go.parent.glob(go.name + ".*"))) < len(procs)
           and time.monotonic() < deadline and all(p.poll() is None for p in procs)):
        time.sleep(0.01)
    if all(p.poll() is None for p in procs):  # (a pusher that died is reported below)
        ready = len(list(go.parent.glob(go.name + ".*")))
        assert ready == len(procs), f"{ready} of {len(procs)} pushers ready in 120 s"
    go.touch()
    out: list[dict[str, object]] = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        assert p.returncode == 0, stderr
        out.extend(json.loads(line) for line in stdout.splitlines() if line.startswith("{"))
    return out


def _variants(tmp_path: Path, n: int) -> list[Path]:
    return [build_pack(tmp_path / f"v{i}", TINY_CONCEPTS[: 3 + i], f"v{i}") for i in range(n)]


def test_eight_processes_push_the_same_pack(den_root: Path, tiny_pack: Path,
                                            tmp_path: Path) -> None:
    results = _run_together(den_root, tmp_path / "go", [tiny_pack] * 8)
    assert len(results) == 8
    assert len({r["id"] for r in results}) == 1
    den = Den(LocalFolderBackend(str(den_root)))
    models = den.list_available_models()
    assert [m.model_id for m in models] == [results[0]["id"]]
    assert models[0].version == 1
    assert den.verify() == []


def test_eight_processes_push_different_packs(den_root: Path, tmp_path: Path) -> None:
    packs = _variants(tmp_path, 8)
    results = _run_together(den_root, tmp_path / "go", packs)
    den = Den(LocalFolderBackend(str(den_root)))
    models = den.list_available_models()
    assert len(models) == 8 and len({r["id"] for r in results}) == 8
    # every push got its own version of the shared name: the ref CAS lost nothing ...
    assert sorted(m.version or 0 for m in models) == list(range(1, 9))
    # ... and the version each push returned is the one that names its model
    assert {(r["id"], r["version"]) for r in results} == {(m.model_id, m.version) for m in models}
    assert den.verify() == []

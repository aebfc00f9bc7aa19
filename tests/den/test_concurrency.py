"""Real processes pushing at once, and pushers killed with SIGKILL at random moments."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from medcat_den.den import Den
from medcat_den.store.local import LocalFolderBackend
from tests.conftest import TINY_CONCEPTS, build_pack

PUSHER = r"""
import json, os, sys, time
from medcat_den.den import Den
from medcat_den.store.local import LocalFolderBackend
den = Den(LocalFolderBackend(sys.argv[1]))
packs = sys.argv[3:]
go = float(sys.argv[2])
print("ready", flush=True)
while time.time() < go:
    time.sleep(0.001)
for pack in packs:
    info = den.push_model(pack, "concurrent", name="shared")
    print(json.dumps({"id": info.model_id, "version": info.version}), flush=True)
"""


def _start(den_root: Path, go: float, *packs: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, TQDM_DISABLE="1")
    return subprocess.Popen(
        [sys.executable, "-c", PUSHER, str(den_root), str(go), *map(str, packs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _results(procs: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        assert p.returncode == 0, stderr
        out.extend(json.loads(line) for line in stdout.splitlines() if line.startswith("{"))
    return out


def _variants(tmp_path: Path, n: int) -> list[Path]:
    return [build_pack(tmp_path / f"v{i}", TINY_CONCEPTS[: 3 + i], f"v{i}") for i in range(n)]


def test_eight_processes_push_the_same_pack(den_root: Path, tiny_pack: Path) -> None:
    go = time.time() + 6
    procs = [_start(den_root, go, tiny_pack) for _ in range(8)]
    results = _results(procs)
    assert len(results) == 8
    assert len({r["id"] for r in results}) == 1
    den = Den(LocalFolderBackend(str(den_root)))
    models = den.list_available_models()
    assert [m.model_id for m in models] == [results[0]["id"]]
    assert models[0].version == 1
    assert den.verify() == []


def test_eight_processes_push_different_packs(den_root: Path, tmp_path: Path) -> None:
    packs = _variants(tmp_path, 8)
    go = time.time() + 6
    procs = [_start(den_root, go, p) for p in packs]
    results = _results(procs)
    den = Den(LocalFolderBackend(str(den_root)))
    models = den.list_available_models()
    assert len(models) == 8 and len({r["id"] for r in results}) == 8
    # every push got its own version of the shared name: the ref CAS lost nothing
    assert sorted(m.version for m in models) == list(range(1, 9))
    assert den.verify() == []


def test_sigkilled_pushers_leave_only_complete_models(den_root: Path, tmp_path: Path) -> None:
    packs = _variants(tmp_path, 4)
    rng = random.Random(1234)
    den = Den(LocalFolderBackend(str(den_root)))
    for trial in range(10):
        proc = _start(den_root, 0.0, *packs)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        models = den.list_available_models()
        assert den.verify() == [], f"trial {trial}"
        for m in models:
            with den.materialise(m) as folder:
                assert (Path(folder) / "cdb" / "raw_dict.dat").is_file()
        # delete everything so each trial races a fresh push
        for m in models:
            den.delete(m.model_id, force=True)
    # the next push succeeds promptly: no lock or half-written file is left in the way
    started = time.monotonic()
    info = den.push_model(str(packs[0]), "after the crashes", name="shared")
    assert time.monotonic() - started < 30
    assert den.info("den://shared").model_id == info.model_id
    deadline = time.monotonic() + 10
    while any((den_root / "tmp").iterdir()) and time.monotonic() < deadline:
        den.gc(grace_seconds=0)
        time.sleep(0.1)
    assert den.verify() == []
    assert not any((den_root / "tmp").iterdir())

"""Shared helpers for the benchmarks (not part of the package)."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "ncbi-disease"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
os.environ.setdefault("TQDM_DISABLE", "1")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def alternate(
    a: Callable[[], Any], b: Callable[[], Any], repeats: int = 5
) -> tuple[float, float, float]:
    """Median seconds of ``a`` and ``b`` run alternately (one warm-up each), and the best-of ratio.

    On a shared machine the best-of-N ratio is the less noisy estimate of an overhead.
    """
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a)[0])
        tb.append(timed(b)[0])
    return statistics.median(ta), statistics.median(tb), min(ta) / min(tb)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_peer(venv: str, script: str, *args: str, timeout: int = 1800) -> dict[str, Any] | None:
    """Run a peer script in its own venv; return the JSON on its last stdout line, or None."""
    python = ROOT / "bench" / venv / "bin" / "python"
    path = ROOT / "bench" / "peers" / script
    if not python.exists() or not path.exists():
        print(f"  (peer skipped: {python} or {path} missing; run bench/setup_peers.sh)")
        return None
    # the peer's venv has its own packages (medcat-den 0.6.0 is also ``medcat_den``):
    # our PYTHONPATH must not shadow them
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(python), str(path), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  (peer {script} failed: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def dir_size(path: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>14}  {target}")


def python() -> str:
    return sys.executable

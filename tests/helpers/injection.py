"""Helpers shared by the injection tests (not fixtures)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from medcat.cat import CAT

PYTHON = sys.executable

# what CAT looked like before any test injected anything (imported before any injection)
ORIGINAL_LOAD = CAT.__dict__["load_model_pack"]
ORIGINAL_SAVE = CAT.__dict__["save_model_pack"]


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment (isolated den, offline settings) for a child process."""
    env = dict(os.environ)
    env.update(extra or {})
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


def report_from(stdout: str) -> dict[str, Any]:
    """The JSON a target printed after ``REPORT ``."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, f"the target printed no REPORT line; stdout was:\n{stdout}"
    data: dict[str, Any] = json.loads(lines[-1][len("REPORT "):])
    return data

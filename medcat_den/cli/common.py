"""Helpers shared by CLI command groups: den selection and output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from medcat_den.den import Den, ModelInfo, get_default_den


def add_den_options(parser: argparse.ArgumentParser) -> None:
    """Add --den-type/--den-path/--den-config/--backend (no-op if already there).

    ``medcat_den.cli.main`` already gives every sub-command these options and
    ``--json`` / ``-v``; command groups need not add them.
    """
    if "--den-type" in parser._option_string_actions:
        return
    group = parser.add_argument_group("den selection (default: environment, then the user den)")
    group.add_argument("--den-type", help="LOCAL_USER, LOCAL_MACHINE, S3 or pkg.module.Class")
    group.add_argument("--den-path", help="folder of a local den")
    group.add_argument("--den-config", help="YAML file naming backends (MEDCAT_DEN_CONFIG)")
    group.add_argument("--backend", help="backend name inside --den-config")


def den_from_args(args: argparse.Namespace) -> Den:
    return get_default_den(
        den_type=getattr(args, "den_type", None),
        path=getattr(args, "den_path", None),
        config_file=getattr(args, "den_config", None),
        backend_name=getattr(args, "backend", None),
    )


def info_dict(info: ModelInfo) -> dict[str, Any]:
    return info.model_dump(mode="json")


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def report(args: argparse.Namespace, data: Any, text: str | None) -> None:
    """``data`` as JSON under ``--json``, else ``text`` (if any) for people."""
    if getattr(args, "json", False):
        emit_json(data)
    elif text is not None:
        print(text)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"

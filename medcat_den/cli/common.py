"""Helpers shared by CLI command groups: global options, den selection, output.

Global options (``--json``, ``-v``, ``--den-type``, ``--den-path``, ``--den-config``,
``--backend``) are accepted before the sub-command and after it, at every level; given in
both places, the one after the sub-command wins. ``medcat_den.cli.main`` adds them to every
sub-command; command groups need not (and :func:`add_den_options` is a no-op there).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medcat_den.den import Den, ModelInfo, get_default_den


@dataclass(frozen=True)
class GlobalOption:
    """One option every sub-command accepts; ``group`` names its help section."""

    flags: tuple[str, ...]
    dest: str
    help: str
    group: str
    action: str = "store"
    default: Any = None
    metavar: str | None = None


OUTPUT = "output"
DEN_SELECTION = "den selection (default: environment, then the user den)"

GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(("--json",), "json", "machine-readable output", OUTPUT, "store_true", False),
    GlobalOption(("-v", "--verbose"), "verbose", "more log output (-vv: debug)", OUTPUT, "count", 0),
    GlobalOption(("--den-type",), "den_type", "LOCAL_USER, LOCAL_MACHINE, S3 or pkg.module.Class",
                 DEN_SELECTION, metavar="TYPE"),
    GlobalOption(("--den-path",), "den_path", "folder of a local den", DEN_SELECTION, metavar="DIR"),
    GlobalOption(("--den-config",), "den_config", "YAML file naming backends (MEDCAT_DEN_CONFIG)",
                 DEN_SELECTION, metavar="YAML"),
    GlobalOption(("--backend",), "backend", "backend name inside --den-config", DEN_SELECTION,
                 metavar="NAME"),
)


def add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool,
                       only: Sequence[str] | None = None) -> None:
    """Add the global options (those whose dest is in ``only``, if given) to ``parser``.

    In a sub-command they default to ``argparse.SUPPRESS``: argparse copies a sub-parser's
    defaults over what the parent parsed, so a default there would erase
    ``medcat-den --den-path X push ...``'s ``X``. Options already present are left alone.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for opt in GLOBAL_OPTIONS:
        if (only is not None and opt.dest not in only) or opt.flags[0] in parser._option_string_actions:
            continue
        if opt.group not in groups:
            groups[opt.group] = parser.add_argument_group(opt.group)
        kwargs: dict[str, Any] = {"dest": opt.dest, "action": opt.action, "help": opt.help,
                                  "default": argparse.SUPPRESS if in_subcommand else opt.default}
        if opt.metavar is not None:
            kwargs["metavar"] = opt.metavar
        groups[opt.group].add_argument(*opt.flags, **kwargs)


def add_den_options(parser: argparse.ArgumentParser) -> None:
    """Add --den-type/--den-path/--den-config/--backend (no-op if already there)."""
    add_global_options(parser, in_subcommand=False,
                       only=[o.dest for o in GLOBAL_OPTIONS if o.group == DEN_SELECTION])


def configure_logging(verbose: int) -> None:
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING - 10 * min(verbose, 2))


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


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Sequence[str] = ()) -> list[str]:
    """Lines of a text table, each column as wide as its widest cell; the last is not padded.

    Columns named in ``right`` are right-aligned.
    """
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    last = len(headers) - 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            if i == last:
                parts.append(cell)
            elif headers[i] in right:
                parts.append(cell.rjust(width))
            else:
                parts.append(cell.ljust(width))
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"

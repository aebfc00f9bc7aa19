"""``medcat-den``: the command line entry point.

Each command group is a module ``medcat_den/cli/<group>_cmd.py`` exposing
``add_parser(subparsers)``; list it in :data:`COMMAND_GROUPS` to wire it. A group that
fails to import is a broken install or a bug: ``medcat-den`` stops and names it
(:class:`medcat_den.errors.CommandGroupImportError`, with the traceback) rather than
silently lacking the command.

Every parser made here, sub-commands and their own sub-commands included, accepts the
global options of :mod:`medcat_den.cli.common`, before or after the sub-command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from medcat_den.cli.common import add_global_options, configure_logging
from medcat_den.errors import CommandGroupImportError, DenError

COMMAND_GROUPS: tuple[str, ...] = (
    "medcat_den.cli.den_cmd",
    "medcat_den.cli.cache_cmd",
    "medcat_den.cli.sync_cmd",
    "medcat_den.cli.doctor_cmd",
    "medcat_den.cli.linker_cmd",
    "medcat_den.cli.evaluate_cmd",
    "medcat_den.cli.serve_cmd",
    "medcat_den.cli.train_cmd",
    "medcat_den.cli.run_cmd",
)


class _SubCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Gives every sub-command the global options (defaults suppressed, see common.py)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        # a group may re-declare a global option itself (e.g. hidden): its own one wins
        kwargs.setdefault("conflict_handler", "resolve")
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        add_global_options(parser, in_subcommand=True)
        return parser


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose sub-parsers (at any depth) get the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubCommands)


def import_command_group(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        raise CommandGroupImportError(
            f"medcat-den: command group {module_name} failed to import "
            f"({type(e).__name__}: {e}); the install is broken or the module has a bug"
        ) from e


def build_parser(groups: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole CLI; ``groups`` defaults to :data:`COMMAND_GROUPS` (read at call time)."""
    parser = CommandParser(
        prog="medcat-den",
        description="Store, fetch, serve and fine-tune MedCAT model packs.",
        epilog="Global options may come before or after the command (after wins). "
        "Also: python -m medcat_den --with-injection ..., an alias of `medcat-den run`.",
    )
    add_global_options(parser, in_subcommand=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_GROUPS if groups is None else groups:
        import_command_group(module_name).add_parser(subparsers)
    return parser


OFFLINE_DEFAULTS = {"MEDCAT_DISABLE_VERSION_CHECK": "true", "HF_HUB_OFFLINE": "1"}


def main(argv: Sequence[str] | None = None) -> int:
    added = [k for k in OFFLINE_DEFAULTS if k not in os.environ]
    os.environ.update({k: OFFLINE_DEFAULTS[k] for k in added})
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    if getattr(args, "keeps_environment", False):  # `run`: the program's environment is its own
        for k in added:
            del os.environ[k]
    if args.verbose or not getattr(args, "keeps_environment", False):
        configure_logging(args.verbose)  # not for `run` unasked: the program's basicConfig works
    try:
        code: int = func(args)
    except DenError as e:
        print(f"medcat-den: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # output piped into e.g. `head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())

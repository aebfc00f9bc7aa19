"""``medcat-den``: the command line entry point.

Command groups live in ``medcat_den/cli/*_cmd.py`` and are added here; a group
whose optional dependencies are missing is skipped with a debug log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from medcat_den.cli.common import add_den_options
from medcat_den.errors import DenError

logger = logging.getLogger(__name__)

COMMAND_GROUPS = (
    "medcat_den.cli.den_cmd",
    "medcat_den.cli.cache_cmd",
    "medcat_den.cli.sync_cmd",
    "medcat_den.cli.linker_cmd",
    "medcat_den.cli.evaluate_cmd",
    "medcat_den.cli.serve_cmd",
    "medcat_den.cli.train_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("-v", "--verbose", action="count", default=0)
    add_den_options(common)
    parser = argparse.ArgumentParser(
        prog="medcat-den",
        description="Store, fetch, serve and fine-tune MedCAT model packs.",
        epilog="Also: python -m medcat_den --with-injection [options] TARGET... "
        "(run a program with CAT.load_model_pack reading from the den).",
        parents=[common],
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    original = subparsers.add_parser

    def add_parser_with_common(name: str, **kwargs: object) -> argparse.ArgumentParser:
        parents = list(kwargs.pop("parents", []) or [])  # type: ignore[call-overload]
        return original(name, parents=[common, *parents], **kwargs)  # type: ignore[arg-type]

    subparsers.add_parser = add_parser_with_common  # type: ignore[method-assign]
    for module_name in COMMAND_GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            logger.debug("command group %s unavailable: %s", module_name, e)
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
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

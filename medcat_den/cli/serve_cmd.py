"""``medcat-den serve``: caikit runtime (HTTP and/or gRPC) serving den models, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import sys

from medcat_den.caikit.serve_command import DESCRIPTION, add_serve_arguments, run_serve
from medcat_den.cli.common import add_den_options


def _say(line: str) -> None:
    print(line, flush=True)


def _complain(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve_and_print(args: argparse.Namespace) -> int:
    return run_serve(args, _say, _complain)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("serve", help="serve den models over HTTP and/or gRPC with caikit runtime",
                              description=DESCRIPTION)
    add_den_options(p)
    add_serve_arguments(p)
    p.set_defaults(func=serve_and_print)

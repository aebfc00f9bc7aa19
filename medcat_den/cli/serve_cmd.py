"""``medcat-den serve``: caikit runtime (HTTP and/or gRPC) serving den models, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse

# the same printing entry point as ``python -m medcat_den.caikit serve``
from medcat_den.caikit.__main__ import serve_and_print
from medcat_den.caikit.serve_command import DESCRIPTION, add_serve_arguments
from medcat_den.cli.common import add_den_options


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("serve", help="serve den models over HTTP and/or gRPC with caikit runtime",
                              description=DESCRIPTION)
    add_den_options(p)
    add_serve_arguments(p)
    p.set_defaults(func=serve_and_print)

"""``python -m medcat_den.caikit serve ...``: the serve command without the full CLI."""

from __future__ import annotations

import argparse
import sys

from medcat_den.cli.serve_options import DESCRIPTION, add_serve_arguments, run_serve


def _say(line: str) -> None:
    print(line, flush=True)


def _complain(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve_and_print(args: argparse.Namespace) -> int:
    return run_serve(args, _say, _complain)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medcat_den.caikit")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve den models with caikit runtime",
                                description=DESCRIPTION)
    add_serve_arguments(serve)
    serve.set_defaults(func=serve_and_print)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

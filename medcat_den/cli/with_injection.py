"""``python -m medcat_den --with-injection ARGS``: the first spelling of ``medcat-den run ARGS``.

Same options, same targets, same handler (:func:`medcat_den.cli.run_cmd.cmd_run`); only the
name in the usage differs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from medcat_den.cli.common import configure_logging
from medcat_den.cli.run_cmd import build_run_parser, cmd_run

PROG = "python -m medcat_den --with-injection"


def main(argv: Sequence[str] | None = None) -> int:
    """``argv``: what follows ``python -m medcat_den`` (a leading ``--with-injection`` is skipped)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--with-injection"]:
        args_in.pop(0)
    parser = build_run_parser(PROG)
    try:
        args = parser.parse_args(args_in)
    except SystemExit as e:  # usage error or --help: argparse has printed it
        return e.code if isinstance(e.code, int) else 2
    if args.verbose:  # else the program's own logging.basicConfig() must still work
        configure_logging(args.verbose)
    code: int = cmd_run(args)
    return code

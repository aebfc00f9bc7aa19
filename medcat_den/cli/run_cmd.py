"""``medcat-den run [--prefix P] [--mapper FILE] [--inject-save] [--] TARGET...``: a program, den injected.

``CAT.load_model_pack`` (and, with ``--inject-save``, ``CAT.save_model_pack``) go through
the den while TARGET runs in this interpreter as ``__main__``, with ``sys.argv`` exactly as
without the wrapper; its exit status becomes ours (:mod:`medcat_den.cli.python_runner`).
``python -m medcat_den --with-injection ...`` is the same command under its old name.

Injection options come from the command line, else ``MEDCAT_DEN_INJECT_*``; the den from
the global den options, else ``MEDCAT_DEN_*``. The values used are exported to the
environment, so a child process run the same way injects the same way (``--backend`` has no
environment variable: children use the config's default backend).

The injection stays in force until the process exits (threads and ``atexit`` handlers of
the target may still load models); an in-process caller can end it with
:func:`medcat_den.injection.uninject_into_medcat`.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from medcat_den.cli.common import add_global_options, den_from_args
from medcat_den.cli.python_runner import FORMS, Target, parse_target, run_target
from medcat_den.errors import DenError
from medcat_den.injection.api import inject_into_medcat
from medcat_den.injection.options import UNSET, DenGetter, InjectionOptions, Unset

DESCRIPTION = "Run a Python program with CAT.load_model_pack going through the model den.\n\n" + FORMS
EPILOG = """\
A TARGET starting with '-' other than -m, -c, -i may need '--' before it. Options after the
start of TARGET belong to the program: `run -m pkg.mod --prefix x` passes --prefix to pkg.mod.
Examples:
  medcat-den run --prefix den: -m my_pkg.predict --model den:ner@prod
  medcat-den --den-path /srv/den run -- python scripts/evaluate.py data.json
"""

# global den options -> the environment variables a child's get_default_den() reads
DEN_ENV = {"den_type": "MEDCAT_DEN_TYPE", "den_path": "MEDCAT_DEN_PATH",
           "den_config": "MEDCAT_DEN_CONFIG"}


@dataclass(frozen=True)
class RunRequest:
    """What ``run`` was asked: injection options (UNSET: from the environment) and the target."""

    prefix: str | None | Unset
    mapper: str | None | Unset
    inject_save: bool | Unset
    target: Target


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "injection (default: $MEDCAT_DEN_INJECT_PREFIX, $MEDCAT_DEN_INJECT_MAPPER, "
        "$MEDCAT_DEN_INJECT_SAVE)")
    g.add_argument("--prefix", default=UNSET, metavar="P",
                   help="only names starting with P come from the den (P stripped); without it, "
                        "existing paths load from disk and other names from the den")
    g.add_argument("--mapper", default=UNSET, metavar="FILE",
                   help="JSON/YAML file mapping the names the code uses to den refs")
    g.add_argument("--inject-save", dest="inject_save", action="store_const", const=True,
                   default=UNSET, help="save_model_pack pushes to the den instead of writing to disk")
    g.add_argument("--no-inject-save", dest="inject_save", action="store_const", const=False,
                   default=UNSET, help="do not, even if $MEDCAT_DEN_INJECT_SAVE says so")
    t = parser.add_argument_group("target")
    # REMAINDER: everything after -m MODULE / -c CODE belongs to the program
    t.add_argument("-m", dest="module", nargs=argparse.REMAINDER, help="MODULE [ARGS]: run a module")
    t.add_argument("-c", dest="code", nargs=argparse.REMAINDER, help="CODE [ARGS]: run code")
    t.add_argument("-i", dest="interactive", action="store_true",
                   help="a prompt after the program (alone: just a prompt)")
    parser.add_argument("target", nargs=argparse.REMAINDER,
                        help="script.py [ARGS], - [ARGS], or python [-i|-u|-B] ... (see above)")
    parser.set_defaults(func=cmd_run, run_parser=parser, keeps_environment=True)


def build_run_parser(prog: str) -> argparse.ArgumentParser:
    """``run`` as a parser of its own (with the global options), for aliases."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_global_options(parser, in_subcommand=False)
    add_run_arguments(parser)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("run", help="run a Python program with the den injected",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p)


def target_args(args: argparse.Namespace) -> list[str]:
    """The parsed target as the words that would follow ``python``."""
    words = ["-i"] if args.interactive else []
    if args.module is not None:
        return [*words, "-m", *args.module]
    if args.code is not None:
        return [*words, "-c", *args.code]
    rest = list(args.target)
    return [*words, *(rest[1:] if rest[:1] == ["--"] else rest)]


def run_request(args: argparse.Namespace) -> RunRequest:
    """The request in a parsed ``run`` command line; ConfigError for a malformed target."""
    mapper = None if args.mapper == "" else args.mapper
    return RunRequest(args.prefix, mapper, args.inject_save, parse_target(target_args(args)))


def parse_run_args(argv: Sequence[str], prog: str = "medcat-den run") -> RunRequest:
    return run_request(build_run_parser(prog).parse_args(list(argv)))


def export_den_selection(args: argparse.Namespace) -> None:
    """Make the global den paths absolute (the program may chdir) and put them in the environment.

    Child processes read them there; a config given here also hides an inherited type/path,
    which would otherwise win over an inherited config.
    """
    for dest in ("den_path", "den_config"):
        if getattr(args, dest, None):
            setattr(args, dest, os.path.abspath(getattr(args, dest)))
    if getattr(args, "den_config", None):
        os.environ.pop(DEN_ENV["den_type"], None)
        os.environ.pop(DEN_ENV["den_path"], None)
    for dest, var in DEN_ENV.items():
        value = getattr(args, dest, None)
        if value:
            os.environ[var] = value


def cmd_run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.run_parser
    try:
        request = run_request(args)
        options = InjectionOptions.resolve(
            model_name_mapper=request.mapper, prefix=request.prefix, inject_save=request.inject_save)
    except DenError as e:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    den_getter: DenGetter | Unset = UNSET
    if any(getattr(args, dest, None) for dest in (*DEN_ENV, "backend")):
        den_getter = functools.partial(den_from_args, args)
    os.environ.update(options.to_env())
    export_den_selection(args)
    inject_into_medcat(
        den_getter=den_getter,
        model_name_mapper=options.model_name_mapper,
        prefix=options.prefix,
        inject_save=options.inject_save,
    )
    return run_target(request.target,
                      banner_note="(medcat_den: CAT.load_model_pack goes through the model den)")

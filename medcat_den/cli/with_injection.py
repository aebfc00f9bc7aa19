"""``python -m medcat_den --with-injection [options] TARGET...``: run a program, den injected.

The target runs in this interpreter, as ``__main__``, with ``sys.argv`` exactly as it
would have been without the wrapper, and its exit status becomes ours. Injection
options come from the command line, else the ``MEDCAT_DEN_INJECT_*`` environment
variables; the resolved ones are exported to the environment so a child process run
the same way (``python -m medcat_den --with-injection ...``) injects the same way.

The injection stays in force until the process exits (threads and ``atexit`` handlers
of the target may still load models); an in-process caller of :func:`main` can end it
with :func:`medcat_den.injection.uninject_into_medcat`.
"""

from __future__ import annotations

import builtins
import code
import importlib.util
import logging
import os
import re
import runpy
import sys
import traceback
import types
from collections.abc import Sequence
from dataclasses import dataclass, field

from medcat_den.errors import ConfigError, DenError
from medcat_den.injection.api import inject_into_medcat
from medcat_den.injection.options import UNSET, InjectionOptions, Unset

logger = logging.getLogger(__name__)

PROG = "python -m medcat_den --with-injection"

USAGE = f"""\
usage: {PROG} [--prefix P] [--mapper FILE] [--inject-save] [--] TARGET...

Run a Python program with CAT.load_model_pack (and, with --inject-save,
CAT.save_model_pack) going through the model den. TARGET is one of:
  -m pkg.module [args...]              run a module (like python -m)
  python -m pkg.module [args...]
  path/to/script.py [args...]          run a script
  python path/to/script.py [args...]
  python -c "code" [args...]           run code (also: -c "code" [args...])
  python -i [script.py [args...]]      run the script if any, then a prompt (also: -i ...)
The target sees sys.argv as without the wrapper; the exit status is the target's.

injection options (default: $MEDCAT_DEN_INJECT_PREFIX, $MEDCAT_DEN_INJECT_MAPPER,
$MEDCAT_DEN_INJECT_SAVE; the values used are exported for child processes):
  --prefix P          only names starting with P come from the den (P stripped);
                      without it, existing paths load from disk and other names from the den
  --mapper FILE       JSON/YAML file mapping the names the code uses to den refs
  --inject-save       save_model_pack pushes to the den instead of writing to disk
  --no-inject-save    do not, even if $MEDCAT_DEN_INJECT_SAVE says so
  -h, --help          show this help
The den itself is chosen as usual ($MEDCAT_DEN_TYPE, $MEDCAT_DEN_PATH, $MEDCAT_DEN_CONFIG).
"""

_PYTHON_RE = re.compile(r"^python(\d+(\.\d+)*)?(\.exe)?$")
# interpreter flags accepted after "python" (anything else is refused, not ignored)
_PY_FLAGS = {"-i", "-u", "-B"}


@dataclass
class Target:
    """What to run: ``kind`` is ``module``, ``script``, ``code``, ``stdin`` or ``repl``."""

    kind: str
    what: str = ""
    args: list[str] = field(default_factory=list)
    interactive: bool = False
    flags: set[str] = field(default_factory=set)

    @property
    def argv(self) -> list[str]:
        if self.kind == "module":
            return [self.what, *self.args]  # runpy puts the module's file in argv[0]
        if self.kind == "script":
            return [self.what, *self.args]
        if self.kind == "code":
            return ["-c", *self.args]
        return ["", *self.args]


@dataclass
class Parsed:
    prefix: str | None | Unset = UNSET
    mapper: str | None | Unset = UNSET
    inject_save: bool | Unset = UNSET
    help: bool = False
    target: Target | None = None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_python(token: str) -> bool:
    return bool(_PYTHON_RE.match(os.path.basename(token))) or _same_file(token, sys.executable)


def _option_value(args: list[str], opt: str) -> str:
    a = args.pop(0)
    if "=" in a:
        return a.split("=", 1)[1]
    if not args:
        raise ConfigError(f"{opt} needs a value")
    return args.pop(0)


def parse_args(argv: Sequence[str]) -> Parsed:
    """Split the wrapper's options from the target (see USAGE); ConfigError if malformed."""
    args = list(argv)
    if args and args[0] == "--with-injection":
        args.pop(0)
    out = Parsed()
    while args:
        a = args[0]
        if a == "--":
            args.pop(0)
            break
        if a in ("-h", "--help"):
            out.help = True
            return out
        if a == "--prefix" or a.startswith("--prefix="):
            out.prefix = _option_value(args, "--prefix")
        elif a == "--mapper" or a.startswith("--mapper="):
            out.mapper = _option_value(args, "--mapper") or None
        elif a == "--inject-save":
            args.pop(0)
            out.inject_save = True
        elif a == "--no-inject-save":
            args.pop(0)
            out.inject_save = False
        elif a.startswith("--"):
            raise ConfigError(f"unknown option {a!r}")
        else:
            break
    out.target = parse_target(args)
    return out


def parse_target(args: list[str]) -> Target:
    if not args:
        raise ConfigError("no target given")
    args = list(args)
    via_python = _is_python(args[0])
    if via_python:
        if os.path.basename(args[0]) != args[0] and not _same_file(args[0], sys.executable):
            logger.warning("%s: the target runs in this interpreter (%s), not %s",
                           PROG, sys.executable, args[0])
        args.pop(0)
    flags: set[str] = set()
    while args and args[0] in _PY_FLAGS and (via_python or args[0] == "-i"):
        flags.add(args.pop(0))
    interactive = "-i" in flags
    if not args:
        if interactive:
            return Target("repl", interactive=True, flags=flags)
        if via_python:
            # plain "python": a prompt on a terminal, else the program read from stdin
            kind = "repl" if sys.stdin.isatty() else "stdin"
            return Target(kind, interactive=kind == "repl", flags=flags)
        raise ConfigError("no target given")
    head = args.pop(0)
    if head == "-m":
        if not args:
            raise ConfigError("-m needs a module name")
        return Target("module", args.pop(0), args, interactive, flags)
    if head == "-c":
        if not args:
            raise ConfigError("-c needs the code to run")
        return Target("code", args.pop(0), args, interactive, flags)
    if head.startswith("-"):
        raise ConfigError(
            f"unsupported option {head!r} before the target (supported: -m, -c, -i"
            + (", -u, -B" if via_python else "") + ")"
        )
    return Target("script", head, args, interactive, flags)


# -- running ----------------------------------------------------------------------------------


class _Console(code.InteractiveConsole):
    """Python's own prompt behaviour: prompts on stderr; line editing on a terminal."""

    def raw_input(self, prompt: str = "") -> str:
        if sys.stdin.isatty():
            return input(prompt)
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line[:-1] if line.endswith("\n") else line


def _fresh_main(filename: str | None) -> types.ModuleType:
    mod = types.ModuleType("__main__")
    mod.__dict__.update({"__builtins__": builtins, "__spec__": None, "__loader__": None})
    if filename is not None:
        mod.__file__ = filename
        mod.__dict__["__cached__"] = None
    return mod


def _print_exception(exc: BaseException) -> None:
    """Print a traceback without the wrapper's own frames, as Python would."""
    skip = {os.path.abspath(__file__), os.path.abspath(runpy.__file__)}
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) in skip:
        tb = tb.tb_next
    exc.__traceback__ = tb  # the default hook reads the exception's own traceback
    try:
        sys.excepthook(type(exc), exc, tb)  # the target may have installed its own
    except Exception:
        traceback.print_exception(type(exc), exc, tb)


def _exit_status(code_: object) -> int:
    if code_ is None:
        return 0
    if isinstance(code_, int):
        return code_
    print(code_, file=sys.stderr)
    return 1


def _set_path0(entry: str) -> None:
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = entry
    else:
        sys.path.insert(0, entry)


def _execute(target: Target, namespace: types.ModuleType) -> None:
    """Run the target's code (raises whatever it raises)."""
    if target.kind == "module":
        # with -i the prompt gets the module's globals (runpy returns a copy of them)
        namespace.__dict__.update(
            runpy.run_module(target.what, run_name="__main__", alter_sys=True))
    elif target.kind == "script" and not target.interactive:
        runpy.run_path(target.what, run_name="__main__")
    elif target.kind == "script":
        with open(target.what, "rb") as f:
            source = f.read()
        exec(compile(source, target.what, "exec"), namespace.__dict__)
    elif target.kind == "code":
        exec(compile(target.what, "<string>", "exec"), namespace.__dict__)
    elif target.kind == "stdin":
        exec(compile(sys.stdin.read(), "<stdin>", "exec"), namespace.__dict__)


def run_target(target: Target) -> int:
    """Run ``target`` in this interpreter; return its exit status."""
    if "-u" in target.flags:
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=True, write_through=True)
    if "-B" in target.flags:
        sys.dont_write_bytecode = True
    if target.kind == "module":
        _set_path0(os.getcwd())
        try:
            found = importlib.util.find_spec(target.what) is not None
        except (ImportError, ValueError):
            found = False
        except Exception as e:  # a parent package failed to import: Python shows why
            _print_exception(e)
            return 1
        if not found:
            print(f"{sys.executable}: No module named {target.what}", file=sys.stderr)
            return 1
    elif target.kind == "script":
        path = os.path.abspath(target.what)
        if not os.path.exists(path):
            print(f"{sys.executable}: can't open file {path!r}: [Errno 2] No such file or "
                  "directory", file=sys.stderr)
            return 2
        # like Python: the script's real directory (symlinks resolved), or the dir/zip itself
        real = os.path.realpath(path)
        _set_path0(os.path.dirname(real) if os.path.isfile(real) else real)
    else:
        _set_path0("")  # -c, -i, stdin: the current directory, as Python's ''

    sys.argv = target.argv
    namespace = _fresh_main(target.what if target.kind == "script" else None)
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = namespace
    try:
        try:
            _execute(target, namespace)
        except SystemExit as e:
            if not target.interactive:
                return _exit_status(e.code)
            _print_exception(e)
        except KeyboardInterrupt as e:
            _print_exception(e)
            if not target.interactive:
                return 130
        except BaseException as e:
            _print_exception(e)
            if not target.interactive:
                return 1
        if target.interactive:
            return _interact(target, namespace)
        return 0
    finally:
        if saved_main is not None:
            sys.modules["__main__"] = saved_main


def _interact(target: Target, namespace: types.ModuleType) -> int:
    banner = ""
    if target.kind == "repl":
        banner = (f"Python {sys.version} on {sys.platform}\n"
                  'Type "help", "copyright", "credits" or "license" for more information.\n'
                  "(medcat_den: CAT.load_model_pack goes through the model den)")
    if sys.stdin.isatty():
        try:  # line editing and tab completion, as Python's own prompt has
            import readline
            import rlcompleter  # noqa: F401

            readline.parse_and_bind("tab: complete")
        except ImportError:
            pass
    try:
        _Console(namespace.__dict__).interact(banner=banner, exitmsg="")
    except SystemExit as e:
        return _exit_status(e.code)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` is what follows ``python -m medcat_den`` (``--with-injection`` on)."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        parsed = parse_args(argv)
    except ConfigError as e:
        sys.stderr.write(USAGE)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if parsed.help:
        sys.stdout.write(USAGE)
        return 0
    assert parsed.target is not None
    try:
        options = InjectionOptions.resolve(
            model_name_mapper=parsed.mapper, prefix=parsed.prefix, inject_save=parsed.inject_save
        )
    except DenError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    os.environ.update(options.to_env())
    inject_into_medcat(
        model_name_mapper=options.model_name_mapper,
        prefix=options.prefix,
        inject_save=options.inject_save,
    )
    return run_target(parsed.target)

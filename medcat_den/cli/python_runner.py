"""Python's own command line, emulated: run a module, script, code, stdin or a prompt in-process.

``parse_target(["-m", "pkg.mod", "a"])`` reads what would follow ``python`` (optionally
preceded by ``python`` itself and ``-i``/``-u``/``-B``); :func:`run_target` runs it in this
interpreter as ``__main__``, with ``sys.argv``, ``sys.path[0]``, tracebacks and the exit
status exactly as ``python`` would give them. It knows nothing of the den: whoever calls it
(``medcat-den run``) sets up whatever the program should find (e.g. an injection) first.
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

from medcat_den.errors import ConfigError

logger = logging.getLogger(__name__)

FORMS = """\
TARGET is what would follow `python` (the program runs in this interpreter):
  -m pkg.module [args...]              run a module (also: python -m pkg.module ...)
  path/to/script.py [args...]          run a script (also: python path/to/script.py ...)
  -c "code" [args...]                  run code (also: python -c "code" ...)
  - [args...]                          run the program read from stdin (also: plain `python`)
  -i [script.py [args...]]             run the script if any, then a prompt (also: python -i ...)
After `python`, -u and -B are honoured too. The program sees sys.argv as without the
wrapper; the exit status is the program's.
"""

_PYTHON_RE = re.compile(r"^python(\d+(\.\d+)*)?(\.exe)?$")
# interpreter flags accepted after "python" (anything else is refused, not ignored)
_PY_FLAGS = {"-i", "-u", "-B"}


@dataclass
class Target:
    """What to run: ``kind`` is ``module``, ``script``, ``code``, ``stdin`` or ``repl``.

    ``what`` is the module name, script path or code (``-`` for an explicit stdin).
    """

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
        if self.kind == "stdin" and self.what == "-":
            return ["-", *self.args]
        return ["", *self.args]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_python(token: str) -> bool:
    return bool(_PYTHON_RE.match(os.path.basename(token))) or _same_file(token, sys.executable)


def parse_target(args: Sequence[str]) -> Target:
    """What ``python ARGS`` would run (``ARGS`` may start with ``python`` itself); ConfigError if none."""
    if not args:
        raise ConfigError("no target given")
    args = list(args)
    via_python = _is_python(args[0])
    if via_python:
        if os.path.basename(args[0]) != args[0] and not _same_file(args[0], sys.executable):
            logger.warning("the target runs in this interpreter (%s), not %s",
                           sys.executable, args[0])
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
    if head == "-":
        return Target("stdin", "-", args, interactive, flags)
    if head == "-c":
        if not args:
            raise ConfigError("-c needs the code to run")
        return Target("code", args.pop(0), args, interactive, flags)
    if head.startswith("-"):
        raise ConfigError(
            f"unsupported option {head!r} before the target (supported: -m, -c, -, -i"
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


def run_target(target: Target, banner_note: str = "") -> int:
    """Run ``target`` in this interpreter; return its exit status.

    ``banner_note`` is added to the banner of a bare interactive prompt.
    """
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
            return _interact(target, namespace, banner_note)
        return 0
    finally:
        if saved_main is not None:
            sys.modules["__main__"] = saved_main


def _interact(target: Target, namespace: types.ModuleType, banner_note: str) -> int:
    banner = ""
    if target.kind == "repl":
        banner = (f"Python {sys.version} on {sys.platform}\n"
                  'Type "help", "copyright", "credits" or "license" for more information.'
                  + (f"\n{banner_note}" if banner_note else ""))
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

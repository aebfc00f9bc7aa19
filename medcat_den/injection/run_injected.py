"""medcat-den 0.6.0's ``run_with_injection(target, args)``: run code with the den injected.

Config: none (the injection's options come from ``MEDCAT_DEN_INJECT_*``). ``target`` is
a script (``*.py``), ``-c`` (``args`` joined is the code), ``-m`` (``args[0]`` the
module) or ``-i`` (optionally a target first, then an interactive console), as in
0.6.0. The command line ``python -m medcat_den --with-injection ...`` is
:mod:`medcat_den.cli.with_injection`, which accepts these forms too.
"""

from __future__ import annotations

import code
import runpy
import sys

from medcat_den.injection.api import injected_den


def _run_code(target: str, args: list[str]) -> None:
    if target.endswith(".py"):
        sys.argv = [target, *args]
        runpy.run_path(target, run_name="__main__")
    elif target == "-c":
        exec(" ".join(args), {"__name__": "__main__"})  # noqa: S102 - 0.6.0's -c
    elif target == "-m":
        if not args:
            raise ValueError("-m needs a module name")
        sys.argv = [args[0], *args[1:]]
        runpy.run_module(args[0], run_name="__main__", alter_sys=True)
    else:
        raise ValueError(f"Unknown target: {target} (args: {args})")


def run_with_injection(target: str, args: list[str]) -> None:
    """Run ``target`` (see the module docstring) with the den injected process-wide."""
    with injected_den(process_wide=True):
        if target == "-i":
            if args:
                _run_code(args[0], args[1:])
            code.interact(local={"__name__": "__main__"})
        elif target.endswith(".py") or target in ("-c", "-m"):
            _run_code(target, args)
        else:
            raise ValueError(f"Unknown target: {target} (args: {args})")

"""``python -m medcat_den``: the ``medcat-den`` CLI; ``--with-injection ...`` is ``run ...``."""

from __future__ import annotations

import sys


def _main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--with-injection"]:
        from medcat_den.cli.with_injection import main as run_injected

        return run_injected(argv)
    from medcat_den.cli.main import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(_main())

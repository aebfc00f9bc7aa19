"""Fixtures for the CLI tests: those of the injection tests (a den holding the tiny pack, an
empty working directory, the guard that every injection is undone), for ``run``'s tests."""

from tests.injection.conftest import den, no_injection_leak, tiny_in_den, work_dir

__all__ = ["den", "no_injection_leak", "tiny_in_den", "work_dir"]

"""Injecting the den into MedCAT: existing ``CAT.load_model_pack(...)`` calls fetch from the den.

See ``docs/injection.md``; ``python -m medcat_den --with-injection ...`` runs a whole
program injected (:mod:`medcat_den.cli.run_cmd`).
"""

from medcat_den.injection.api import (
    current_injection,
    inject_into_medcat,
    injected_den,
    uninject_into_medcat,
)
from medcat_den.injection.options import InjectionOptions
from medcat_den.injection.run_injected import run_with_injection
from medcat_den.injection.state import InjectionHandle

__all__ = [
    "InjectionHandle",
    "InjectionOptions",
    "current_injection",
    "inject_into_medcat",
    "injected_den",
    "run_with_injection",
    "uninject_into_medcat",
]

"""The den's public API: ``get_default_den()``, ``Den``, ``ModelInfo``, refs."""

from medcat_den.den.den import Den, source_of
from medcat_den.den.model_info import ModelInfo
from medcat_den.den.refs import ModelRef, is_den_ref, parse_ref
from medcat_den.den.resolver import create_backend, get_default_den

__all__ = [
    "Den",
    "ModelInfo",
    "ModelRef",
    "create_backend",
    "get_default_den",
    "is_den_ref",
    "parse_ref",
    "source_of",
]

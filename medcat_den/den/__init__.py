"""The den's public API: ``get_default_den()``, ``Den``, ``ModelInfo``, refs.

Also medcat-den 0.6.0's names (``DenBackend``, its exceptions, ``get_default_user_local_den``
...); ``get_default_den`` takes 0.6.0's arguments too (docs/migrating-from-medcat-den.md).
"""

from medcat_den.backend import DenType
from medcat_den.den.den import Den, source_of
from medcat_den.den.legacy_backend import DenBackend
from medcat_den.den.legacy_resolver import (
    get_default_den,
    get_default_machine_local_den,
    get_default_user_local_den,
)
from medcat_den.den.model_info import ModelInfo
from medcat_den.den.refs import ModelRef, is_den_ref, parse_ref
from medcat_den.den.resolver import create_backend
from medcat_den.errors import (
    DuplicateModelException,
    NoSuchBackendException,
    NoSuchModel,
    UnsupportedAPIException,
)

__all__ = [
    "Den",
    "ModelInfo",
    "ModelRef",
    "create_backend",
    "get_default_den",
    "is_den_ref",
    "parse_ref",
    "source_of",
    # medcat-den 0.6.0's
    "DenBackend",
    "DenType",
    "DuplicateModelException",
    "NoSuchBackendException",
    "NoSuchModel",
    "UnsupportedAPIException",
    "get_default_machine_local_den",
    "get_default_user_local_den",
]

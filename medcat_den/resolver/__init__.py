"""medcat-den 0.6.0's ``medcat_den.resolver``: ``resolve`` and ``resolve_from_config``."""

from medcat_den.resolver.resolver import resolve, resolve_from_config

__all__ = ["resolve", "resolve_from_config"]

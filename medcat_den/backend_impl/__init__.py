"""medcat-den 0.6.0's ``medcat_den.backend_impl``: ``LocalFileDen``."""

from medcat_den.backend_impl.file_den import LocalFileDen

__all__ = ["LocalFileDen"]

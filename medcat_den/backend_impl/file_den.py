"""medcat-den 0.6.0's ``medcat_den.backend_impl.file_den``: ``LocalFileDen``."""

import medcat_den.compat  # noqa: F401  (registers finetune_model / evaluate_model)
from medcat_den.den.legacy_file_den import LocalFileDen

__all__ = ["LocalFileDen"]

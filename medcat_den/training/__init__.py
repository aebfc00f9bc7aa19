"""Fine-tuning framework for trainable MedCAT components.

``Trainer`` fits any :class:`TrainableComponent` on MedCATtrainer exports with
checkpoints/resume, evaluation, early stopping, a time limit, callbacks and cooperative
cancellation. The caikit trainer (``medcat_den.caikit.trainers``) runs it as background
jobs that push their result to the den.
"""

from medcat_den.training.callbacks import TrainerCallback
from medcat_den.training.cancellation import CancellationToken
from medcat_den.training.checkpoints import CheckpointManager
from medcat_den.training.config import TrainerConfig
from medcat_den.training.data import fingerprint, load_export, parse_export, validate_export
from medcat_den.training.early_stopping import EarlyStoppingCallback
from medcat_den.training.progress import ProgressCallback
from medcat_den.training.protocol import TrainableComponent
from medcat_den.training.state import TrainerControl, TrainerState
from medcat_den.training.trainer import Trainer, TrainResult

__all__ = [
    "CancellationToken", "CheckpointManager", "EarlyStoppingCallback", "ProgressCallback",
    "TrainResult", "TrainableComponent", "Trainer", "TrainerCallback", "TrainerConfig",
    "TrainerControl", "TrainerState", "fingerprint", "load_export", "parse_export",
    "validate_export",
]

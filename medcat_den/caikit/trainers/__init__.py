"""caikit trainers of medcat_den; importing this package registers them.

* ``MEDCAT_EMBEDDING_LINKER`` (:class:`MedCATEmbeddingLinkerTrainer`): background
  fine-tuning jobs of the trainable embedding linker that push their result to the den.

YAML configs may instead use ``import_class:
medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer`` with no prior import.
"""

from caikit.core.model_management import model_trainer_factory

from medcat_den.caikit.trainers.embedding_linker_trainer import MedCATEmbeddingLinkerTrainer
from medcat_den.caikit.trainers.job_record import JobRecord
from medcat_den.caikit.trainers.job_store import JobStore
from medcat_den.caikit.trainers.linker_future import LinkerTrainingFuture
from medcat_den.caikit.trainers.training_data import put_dataset
from medcat_den.caikit.trainers.training_info import LinkerTrainingInfo

model_trainer_factory.register(MedCATEmbeddingLinkerTrainer)

__all__ = [
    "JobRecord",
    "JobStore",
    "LinkerTrainingFuture",
    "LinkerTrainingInfo",
    "MedCATEmbeddingLinkerTrainer",
    "put_dataset",
]

"""caikit trainers of medcat_den, named by where their jobs run; importing this package
registers them.

* ``MEDCAT_EMBEDDING_LINKER`` (:class:`MedCATLocalTrainer`, also importable as
  ``MedCATEmbeddingLinkerTrainer``): background fine-tuning jobs on this machine
  (thread or subprocess) that push their result to the den.
* ``MEDCAT_RAY`` (:class:`~medcat_den.caikit.trainers.ray_trainer.MedCATRayTrainer`):
  the same jobs submitted to a Ray cluster.

The jobs themselves (spec, the one training run, the push) are in :mod:`medcat_den.jobs`,
which knows nothing of caikit. YAML configs may instead use ``import_class:
medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer`` with no prior import.
"""

from caikit.core.model_management import model_trainer_factory

from medcat_den.caikit.trainers.local_future import LinkerTrainingFuture
from medcat_den.caikit.trainers.local_trainer import (
    MedCATEmbeddingLinkerTrainer,
    MedCATLocalTrainer,
)
from medcat_den.caikit.trainers.training_info import LinkerTrainingInfo
from medcat_den.jobs import JobRecord, JobStore, put_dataset

model_trainer_factory.register(MedCATLocalTrainer)

__all__ = [
    "JobRecord",
    "JobStore",
    "LinkerTrainingFuture",
    "LinkerTrainingInfo",
    "MedCATEmbeddingLinkerTrainer",
    "MedCATLocalTrainer",
    "put_dataset",
]

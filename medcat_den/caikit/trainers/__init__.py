"""caikit trainers of medcat_den, named by where their jobs run; importing this package
registers them.

* ``MEDCAT_EMBEDDING_LINKER`` (:class:`MedCATLocalTrainer`, also importable as
  ``MedCATEmbeddingLinkerTrainer``): background fine-tuning jobs on this machine
  (thread or subprocess) that push their result to the den.
* ``MEDCAT_RAY`` (:class:`~medcat_den.caikit.trainers.ray_trainer.MedCATRayTrainer`):
  the same jobs submitted to a Ray cluster.
* ``MedCATModule.train`` (caikit's synchronous ``LOCAL`` path):
  :func:`~medcat_den.caikit.trainers.local_sync.train_synchronously`, registered here.

The jobs themselves (spec, the one training run, the push) are in :mod:`medcat_den.jobs`,
which knows nothing of caikit. YAML configs may instead use ``import_class:
medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer`` with no prior import.
"""

from caikit.core.model_management import model_trainer_factory

from medcat_den.caikit.module import set_local_training
from medcat_den.caikit.trainers.local_future import LinkerTrainingFuture
from medcat_den.caikit.trainers.local_sync import train_synchronously
from medcat_den.caikit.trainers.local_trainer import (
    MedCATEmbeddingLinkerTrainer,
    MedCATLocalTrainer,
)
from medcat_den.caikit.trainers.training_info import LinkerTrainingInfo
from medcat_den.jobs import JobRecord, JobStore, put_dataset

model_trainer_factory.register(MedCATLocalTrainer)
set_local_training(train_synchronously)  # what MedCATModule.train (caikit's LOCAL path) runs

__all__ = [
    "JobRecord",
    "JobStore",
    "LinkerTrainingFuture",
    "LinkerTrainingInfo",
    "MedCATEmbeddingLinkerTrainer",
    "MedCATLocalTrainer",
    "put_dataset",
]

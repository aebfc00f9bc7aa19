"""Training jobs: what runs a fine-tuning, wherever it runs. Imports nothing from caikit.

* :class:`JobSpec` / :class:`DenSpec` (what to train, where the den is),
  :class:`JobOutcome` (the saved pack), :class:`PushedModel` (the published model),
  :class:`Progress`.
* :func:`run_training`: the one run (resolve → policy → materialise → load → component →
  Trainer → fit → save), used by the thread and subprocess jobs
  (:class:`~medcat_den.jobs.local_job.TrainingJob`), the Ray job entry point
  (:mod:`~medcat_den.jobs.ray_entry`) and every data-parallel worker
  (:mod:`~medcat_den.jobs.data_parallel`); :func:`push_result` publishes its outcome.
* :class:`JobRecord` / :class:`JobStore`: local jobs' state on disk.

The caikit trainers (``medcat_den.caikit.trainers``) submit and watch these jobs.
"""

from medcat_den.den.den_spec import DenSpec
from medcat_den.jobs.data import DEN_DATA_SCHEME, data_ref, describe_source, put_dataset
from medcat_den.jobs.outcome import DataFingerprints, JobOutcome, PushedModel
from medcat_den.jobs.progress import Progress
from medcat_den.jobs.push import push_result
from medcat_den.jobs.record import JobRecord
from medcat_den.jobs.run import RunHooks, error_message, run_training, train_to_pack
from medcat_den.jobs.spec import JobSpec
from medcat_den.jobs.store import JobStore

__all__ = [
    "DEN_DATA_SCHEME", "DataFingerprints", "DenSpec", "JobOutcome", "JobRecord", "JobSpec",
    "JobStore", "Progress", "PushedModel", "RunHooks", "data_ref", "describe_source",
    "error_message", "push_result", "put_dataset", "run_training", "train_to_pack",
]

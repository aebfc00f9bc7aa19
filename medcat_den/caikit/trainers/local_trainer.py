"""``MEDCAT_EMBEDDING_LINKER``: the local caikit ModelTrainer. It fine-tunes MedCAT's
trainable embedding linker in background jobs on this machine (a worker thread or a
training subprocess: :class:`~medcat_den.jobs.local_job.TrainingJob`) and pushes each
result to the den.

model_management:
    trainers:
        <instance name>:
            type: MEDCAT_EMBEDDING_LINKER
            # or, with no prior import:
            # import_class: medcat_den.caikit.trainers.MedCATEmbeddingLinkerTrainer
            config:
                use_subprocess: <bool: false>      # train in a child process
                subprocess_start_method: <str: spawn>
                max_workers: <int: 1>              # jobs running at once; the rest queue
                state_dir: <str>                   # default MEDCAT_DEN_STATE_DIR / user state dir
                # the den (default: get_default_den()):
                den_type / den_path / den_config_file / den_backend: <str>
                component_factory: <"module:function">  # default: the pack's trainable linker
                trainer_config: <dict>             # TrainerConfig defaults for every job

``train(module_class, base_model=REF, train_data=..., eval_data=None,
trainer_config=None, name=None, aliases=None)`` returns a
:class:`LinkerTrainingFuture` at once. Its id is ``<hashed instance name>:<uuid>``, so
``ModelManager.get_model_future(id)`` routes to this instance by name, and the job's
record in the state dir lets any instance (in any process) find it later. caikit's
``save_path`` / ``save_with_id`` are accepted and ignored: the result goes to the den
(``model_name`` is used as the den name when ``name`` is not given).
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import aconfig
from caikit.core.exceptions.caikit_core_exception import (
    CaikitCoreException,
    CaikitCoreStatusCode,
)
from caikit.core.model_management.model_trainer_base import ModelTrainerBase

from medcat_den.caikit.module import MedCATModule
from medcat_den.caikit.trainers.local_future import LinkerTrainingFuture
from medcat_den.caikit.trainers.request import (
    COMMON_KEYS,
    ResultSettings,
    TrainerSettings,
    check_call,
    job_spec,
    read_config,
    request_errors,
    training_ids,
)
from medcat_den.errors import ConfigError, TrainingError
from medcat_den.jobs.local_job import TrainingJob
from medcat_den.jobs.record import JobRecord
from medcat_den.jobs.store import JobStore, process_start
from medcat_den.training import TrainerConfig

_log = logging.getLogger(__name__)
_START_METHODS = ("spawn", "forkserver", "fork")


class MedCATLocalTrainer(ModelTrainerBase):  # type: ignore[misc]
    __doc__ = __doc__

    name = "MEDCAT_EMBEDDING_LINKER"

    ModelFutureBase = LinkerTrainingFuture

    def __init__(self, config: aconfig.Config, instance_name: str) -> None:
        known = {"use_subprocess", "subprocess_start_method", "max_workers", "state_dir",
                 "retention_duration", *COMMON_KEYS}
        cfg, owner = read_config(config, instance_name, self.name, known)
        self._instance_name = instance_name
        self._use_subprocess = bool(cfg.get("use_subprocess", False))
        self._start_method = str(cfg.get("subprocess_start_method") or "spawn")
        if self._start_method not in _START_METHODS:
            raise ConfigError(f"{owner}: subprocess_start_method must be one of "
                              f"{', '.join(_START_METHODS)}")
        max_workers = cfg.get("max_workers", 1)
        if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
            raise ConfigError(f"{owner}: max_workers must be an integer >= 1")
        settings = TrainerSettings.from_config(cfg, owner)
        self._den = settings.den
        self._factory = settings.factory
        self._defaults = settings.defaults
        self._store = JobStore(cfg.get("state_dir"))
        self._executor = ThreadPoolExecutor(max_workers=max_workers,
                                            thread_name_prefix=f"medcat-train-{instance_name}")
        self._jobs: dict[str, TrainingJob] = {}
        self._jobs_lock = threading.Lock()
        self._owner_start = process_start(os.getpid())

    @property
    def instance_name(self) -> str:
        return self._instance_name

    @property
    def store(self) -> JobStore:
        return self._store

    # -- caikit interface ---------------------------------------------------------------

    def train(
        self,
        module_class: type[Any],
        *args: Any,
        save_path: Any = None,
        save_with_id: bool = False,
        model_name: str | None = None,
        external_training_id: str | None = None,
        base_model: str | None = None,
        train_data: Any = None,
        eval_data: Any = None,
        trainer_config: TrainerConfig | dict[str, Any] | None = None,
        name: str | None = None,
        aliases: list[str] | str | None = None,
        **kwargs: Any,
    ) -> LinkerTrainingFuture:
        """Queue a fine-tuning job and return its future at once."""
        with request_errors():
            return self._submit(module_class, args, kwargs, save_path=save_path,
                                model_name=model_name,
                                external_training_id=external_training_id,
                                base_model=base_model, train_data=train_data,
                                eval_data=eval_data, trainer_config=trainer_config,
                                name=name, aliases=aliases)

    def _submit(self, module_class: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                *, save_path: Any, model_name: str | None, external_training_id: str | None,
                base_model: str | None, train_data: Any, eval_data: Any,
                trainer_config: TrainerConfig | dict[str, Any] | None, name: str | None,
                aliases: list[str] | str | None) -> LinkerTrainingFuture:
        base_model = check_call(self.name, module_class, args, kwargs, base_model, train_data)
        if eval_data == "":
            eval_data = None
        result = ResultSettings.resolve(self._defaults, trainer_config, name, model_name, aliases)
        if save_path is not None:
            _log.debug("save_path %s ignored: trained models go to the den", save_path)

        job_uuid, training_id = training_ids(self._instance_name, external_training_id)
        if self._store.read(training_id) is not None:
            raise ConfigError(f"training id {job_uuid} is already in use")
        record = JobRecord(id=training_id, uuid=job_uuid, trainer_name=self._instance_name,
                           submitted_at=datetime.now(), base_model=base_model, name=result.name,
                           aliases=result.aliases, num_epochs=result.config.epochs,
                           owner_pid=os.getpid(), owner_start=self._owner_start,
                           use_subprocess=self._use_subprocess)
        spec = job_spec(training_id=training_id, job_uuid=job_uuid,
                        trainer_name=self._instance_name, base_model=base_model,
                        train_data=train_data, eval_data=eval_data, result=result,
                        factory=self._factory, den=self._den,
                        scratch=str(self._store.scratch(job_uuid)),
                        cancel_file=str(self._store.cancel_path(job_uuid)))
        job = TrainingJob(record, spec, self._store, use_subprocess=self._use_subprocess,
                          start_method=self._start_method)
        self._store.write(record)
        with self._jobs_lock:
            self._jobs[training_id] = job
        job.submit(self._executor)
        _log.info("queued training job %s (base %s)", training_id, base_model)
        return LinkerTrainingFuture(training_id, self._store, self._den, module_class, job=job)

    def get_model_future(self, training_id: str) -> LinkerTrainingFuture:
        """The future of a job started by this instance, another instance or process."""
        with self._jobs_lock:
            job = self._jobs.get(training_id)
        if job is not None:
            return LinkerTrainingFuture(training_id, self._store, self._den, MedCATModule,
                                        job=job)
        try:
            record = self._store.read_checked(training_id)
        except TrainingError:
            record = None
        if record is None:
            raise CaikitCoreException(status_code=CaikitCoreStatusCode.NOT_FOUND,
                                      message=f"Unknown training_id: {training_id}")
        return LinkerTrainingFuture(record.id, self._store, self._den, MedCATModule)

    def list_jobs(self) -> list[JobRecord]:
        """Every job in the state dir, oldest first (live jobs as this process sees them)."""
        with self._jobs_lock:
            live = {job.record.uuid: job for job in self._jobs.values()}
        return [live[r.uuid].snapshot() if r.uuid in live else r for r in self._store.list()]

    def shutdown(self, cancel: bool = True) -> None:
        """Cancel (optionally) running jobs and stop the worker threads."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        if cancel:
            for job in jobs:
                job.cancel()
        self._executor.shutdown(wait=True, cancel_futures=cancel)


MedCATEmbeddingLinkerTrainer = MedCATLocalTrainer  # the name YAML configs import

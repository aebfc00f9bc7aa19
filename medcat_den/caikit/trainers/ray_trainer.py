"""``MEDCAT_RAY``: a caikit ModelTrainer that runs each embedding-linker fine-tune as a Ray job.

model_management:
    trainers:
        <instance name>:
            type: MEDCAT_RAY
            # or, with no prior import:
            # import_class: medcat_den.caikit.trainers.MedCATRayTrainer
            config:
                address: <str>             # Ray dashboard / job server URL, e.g.
                                           # http://head:8265; unset: a private local Ray
                                           # head on 127.0.0.1 started for this process
                local_num_cpus: <int>      # logical CPUs of that local head (default: cores)
                num_cpus: <float: 1>       # per job (per worker when num_workers > 1)
                num_gpus: <float: 0>
                memory: <int bytes>        # optional
                resources: <dict>          # optional custom Ray resources
                num_workers: <int: 1>      # > 1: data-parallel Ray Train (torch, gloo on CPU)
                runtime_env: <dict>        # merged into the job's Ray runtime_env
                forward_env: [<names>]     # env vars copied into the job (default: every
                                           # MEDCAT_DEN_* set here, AWS_ENDPOINT_URL[_S3],
                                           # AWS_REGION / AWS_DEFAULT_REGION, HF/offline vars)
                stop_grace_period_s: <int: 30>  # SIGTERM→SIGKILL; the loop checkpoints
                python: <str>              # interpreter on the nodes (default "python";
                                           # this one for the local head)
                checkpoint_dir: <str>      # checkpoints on the nodes (default: node tmp)
                poll_interval_s: <float: 0.2>
                den_type / den_path / den_config_file / den_backend: <str>
                component_factory: <"module:function">
                trainer_config: <dict>     # TrainerConfig defaults for every job

``train(module_class, base_model=REF, train_data=..., eval_data=None,
trainer_config=None, name=None, aliases=None, resume_from=None, num_workers=None)``
submits one Ray job whose ``submission_id`` is the caikit training id
(``<hashed instance name>:<uuid>``, so ``ModelManager.get_model_future(id)`` routes here)
and returns a :class:`RayTrainingFuture`. Data never travel in the job's environment:
in-memory exports and local files are stored once in the den backend
(``den-data://datasets/sha256/<fingerprint>.json``) and passed by reference, like
``s3://`` and ``den-data://`` locations. Credentials are never forwarded: nodes use their
own standard AWS chain. The job state lives in the cluster (status, metadata, log), so
``get_model_future(id)`` works from any process configured with the same ``address``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shlex
import sys
import threading
from typing import Any

import aconfig
from caikit.core.exceptions.caikit_core_exception import (
    CaikitCoreException,
    CaikitCoreStatusCode,
)
from caikit.core.model_management.model_trainer_base import ModelTrainerBase

from medcat_den.caikit.module import MedCATModule
from medcat_den.caikit.trainers.ray_future import RayTrainingFuture
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
from medcat_den.den import Den
from medcat_den.errors import BackendError, ConfigError, TrainingError
from medcat_den.jobs.data import data_ref, describe_source
from medcat_den.jobs.ray_head import LocalRayHead
from medcat_den.training import TrainerConfig

_log = logging.getLogger(__name__)

TYPE_KEY = "medcat_den.type"
TRAINER_KEY = "medcat_den.trainer"
JOB_KEY = "medcat_den.job"
DEFAULT_FORWARD = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
                   "AWS_DEFAULT_REGION", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                   "MEDCAT_DISABLE_VERSION_CHECK", "TQDM_DISABLE")
_SECRET = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|ACCESS_KEY|CREDENTIAL|PRIVATE",
                     re.IGNORECASE)
_KNOWN = {"address", "local_num_cpus", "num_cpus", "num_gpus", "memory", "resources",
          "num_workers", "runtime_env", "forward_env", "stop_grace_period_s", "python",
          "checkpoint_dir", "poll_interval_s", *COMMON_KEYS}

_local_head: LocalRayHead | None = None
_local_lock = threading.Lock()


def local_head(num_cpus: int | None = None) -> LocalRayHead:
    """The process's private local Ray head (started on first use, stopped at exit)."""
    global _local_head
    with _local_lock:
        if _local_head is None:
            head = LocalRayHead(num_cpus=num_cpus or os.cpu_count() or 1).start()
            atexit.register(head.stop)
            _local_head = head
        return _local_head


def _number(cfg: dict[str, Any], key: str, default: float, owner: str,
            integer: bool = False, minimum: float = 0) -> Any:
    value = cfg.get(key)
    if value is None:
        value = default
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{owner}: {key} must be {kind} >= {minimum:g}, got {value!r}")
    return value


class MedCATRayTrainer(ModelTrainerBase):  # type: ignore[misc]
    __doc__ = __doc__

    name = "MEDCAT_RAY"

    ModelFutureBase = RayTrainingFuture

    def __init__(self, config: aconfig.Config, instance_name: str) -> None:
        cfg, owner = read_config(config, instance_name, self.name, _KNOWN)
        self._instance_name = instance_name
        self._owner = owner
        address = cfg.get("address")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigError(f"{owner}: address must be a Ray dashboard URL string")
        self._address: str | None = address or None
        self._local_cpus = _number(cfg, "local_num_cpus", os.cpu_count() or 1, owner,
                                   integer=True, minimum=1)
        self._num_cpus = _number(cfg, "num_cpus", 1, owner)
        self._num_gpus = _number(cfg, "num_gpus", 0, owner)
        self._memory = _number(cfg, "memory", 0, owner, integer=True) or None
        self._num_workers = _number(cfg, "num_workers", 1, owner, integer=True, minimum=1)
        self._grace = _number(cfg, "stop_grace_period_s", 30, owner, integer=True, minimum=1)
        self._poll = float(_number(cfg, "poll_interval_s", 0.2, owner, minimum=0.01))
        resources = cfg.get("resources") or {}
        if not isinstance(resources, dict):
            raise ConfigError(f"{owner}: resources must be a mapping of name to amount")
        self._resources = {str(k): float(v) for k, v in resources.items()}
        runtime_env = cfg.get("runtime_env") or {}
        if not isinstance(runtime_env, dict):
            raise ConfigError(f"{owner}: runtime_env must be a mapping")
        self._runtime_env = runtime_env
        env_vars = runtime_env.get("env_vars") or {}
        forward = cfg.get("forward_env")
        if forward is not None and (not isinstance(forward, list)
                                    or not all(isinstance(v, str) for v in forward)):
            raise ConfigError(f"{owner}: forward_env must be a list of variable names")
        self._forward = forward
        for var in [*env_vars, *(forward or [])]:
            if _SECRET.search(var):
                raise ConfigError(f"{owner}: {var} looks like a credential; credentials are "
                                  "never sent to Ray jobs (the nodes use their own AWS "
                                  "credential chain)")
        python = cfg.get("python")
        self._python = str(python) if python else ("python" if self._address else
                                                    sys.executable)
        self._checkpoint_dir = cfg.get("checkpoint_dir")
        settings = TrainerSettings.from_config(cfg, owner)
        self._den = settings.den
        self._factory = settings.factory
        self._defaults = settings.defaults
        self._client: Any = None
        self._den_obj: Den | None = None
        self._lock = threading.Lock()

    @property
    def instance_name(self) -> str:
        return self._instance_name

    @property
    def address(self) -> str:
        """The job server URL (starts the local head when none is configured)."""
        if self._address is None:
            return local_head(self._local_cpus).dashboard_url
        return self._address

    def client(self) -> Any:
        """The (cached) Ray JobSubmissionClient."""
        with self._lock:
            if self._client is None:
                from ray.job_submission import JobSubmissionClient

                try:
                    self._client = JobSubmissionClient(self.address)
                except Exception as err:  # ConnectionError, RuntimeError, ...
                    raise BackendError(f"{self._owner}: cannot reach the Ray job server at "
                                       f"{self.address}: {err}") from None
            return self._client

    def _den_handle(self) -> Den:
        with self._lock:
            if self._den_obj is None:
                self._den_obj = self._den.open()
            return self._den_obj

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
        resume_from: str | None = None,
        num_workers: int | None = None,
        **kwargs: Any,
    ) -> RayTrainingFuture:
        """Submit one Ray job and return its future."""
        with request_errors():
            return self._submit(module_class, args, kwargs, model_name=model_name,
                                external_training_id=external_training_id,
                                base_model=base_model, train_data=train_data,
                                eval_data=eval_data, trainer_config=trainer_config,
                                name=name, aliases=aliases, resume_from=resume_from,
                                num_workers=num_workers)

    def _data_ref(self, source: Any, what: str) -> str:
        """A reference every node can read; exports and local files go to the den once."""
        try:
            return data_ref(self._den_handle(), source, what)
        except TrainingError as err:
            raise ConfigError(str(err)) from None

    def _submit(self, module_class: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                *, model_name: str | None, external_training_id: str | None,
                base_model: str | None, train_data: Any, eval_data: Any,
                trainer_config: TrainerConfig | dict[str, Any] | None, name: str | None,
                aliases: list[str] | str | None, resume_from: str | None,
                num_workers: int | None) -> RayTrainingFuture:
        base_model = check_call(self.name, module_class, args, kwargs, base_model, train_data)
        workers = self._num_workers if num_workers is None else num_workers
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError(f"num_workers must be an integer >= 1, got {workers!r}")
        result = ResultSettings.resolve(self._defaults, trainer_config, name, model_name, aliases)
        job_uuid, training_id = training_ids(self._instance_name, external_training_id)

        train_ref = self._data_ref(train_data, "training data")
        eval_ref = (self._data_ref(eval_data, "evaluation data")
                    if eval_data not in (None, "") else None)
        spec = job_spec(training_id=training_id, job_uuid=job_uuid,
                        trainer_name=self._instance_name, base_model=base_model,
                        train_data=train_ref, eval_data=eval_ref, result=result,
                        factory=self._factory, den=self._den, num_workers=workers,
                        worker_resources=self._worker_resources(),
                        checkpoint_dir=self._checkpoint_dir, resume_from=resume_from)
        public = {"base_model": spec.base_model, "name": spec.name, "aliases": spec.aliases,
                  "num_workers": spec.num_workers,
                  "data": {"train": describe_source(train_ref),
                           "eval": describe_source(eval_ref)}}
        entrypoint = (f"{shlex.quote(self._python)} -m medcat_den.jobs.ray_entry "
                      f"--spec-b64 {spec.encode()}")
        options: dict[str, Any] = {
            "entrypoint_num_cpus": self._num_cpus if workers == 1 else 0,
            "entrypoint_num_gpus": self._num_gpus if workers == 1 else 0,
        }
        if self._memory and workers == 1:
            options["entrypoint_memory"] = self._memory
        if self._resources and workers == 1:
            options["entrypoint_resources"] = self._resources
        client = self.client()
        try:
            client.submit_job(entrypoint=entrypoint, submission_id=training_id,
                              runtime_env=self._job_runtime_env(),
                              metadata={TYPE_KEY: self.name, TRAINER_KEY: self._instance_name,
                                        JOB_KEY: json.dumps(public)},
                              **options)
        except Exception as err:
            raise BackendError(f"{self._owner}: Ray refused job {training_id}: {err}") from None
        _log.info("submitted Ray job %s (base %s, %d worker(s))", training_id, base_model,
                  workers)
        return RayTrainingFuture(training_id, client, self._den, module_class, self._poll)

    def _worker_resources(self) -> dict[str, float]:
        res = {"CPU": float(self._num_cpus), **self._resources}
        if self._num_gpus:
            res["GPU"] = float(self._num_gpus)
        if self._memory:
            res["memory"] = float(self._memory)
        return res

    def _job_runtime_env(self) -> dict[str, Any]:
        env = dict(self._runtime_env)
        names = self._forward if self._forward is not None else [
            *DEFAULT_FORWARD, *(k for k in os.environ if k.startswith("MEDCAT_DEN_"))]
        forwarded = {k: os.environ[k] for k in names
                     if k in os.environ and not _SECRET.search(k)}
        env["env_vars"] = {**forwarded, **{str(k): str(v) for k, v in
                                           (env.get("env_vars") or {}).items()},
                           "RAY_JOB_STOP_WAIT_TIME_S": str(self._grace),
                           "PYTHONUNBUFFERED": "1"}
        return env

    def get_model_future(self, training_id: str) -> RayTrainingFuture:
        """The future of a job submitted by any process to the same Ray cluster."""
        client = self.client()
        try:
            details = client.get_job_info(training_id)
        except Exception:
            details = None
        meta = getattr(details, "metadata", None) or {}
        if details is None or meta.get(TYPE_KEY) != self.name:
            raise CaikitCoreException(status_code=CaikitCoreStatusCode.NOT_FOUND,
                                      message=f"Unknown training_id: {training_id}")
        return RayTrainingFuture(training_id, client, self._den, MedCATModule, self._poll)

    def list_jobs(self) -> list[dict[str, Any]]:
        """The cluster's MEDCAT_RAY jobs (id, Ray status, trainer, public spec)."""
        out = []
        for job in self.client().list_jobs():
            meta = job.metadata or {}
            if meta.get(TYPE_KEY) != self.name or not job.submission_id:
                continue
            out.append({"id": job.submission_id, "ray_status": str(job.status.value),
                        "trainer": meta.get(TRAINER_KEY),
                        **json.loads(meta.get(JOB_KEY) or "{}")})
        return out


# importing this module registers the type (``import_class`` in YAML does the import)
def _register() -> None:
    from caikit.core.model_management import model_trainer_factory

    model_trainer_factory.register(MedCATRayTrainer)


_register()

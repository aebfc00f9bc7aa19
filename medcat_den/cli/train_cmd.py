"""Training commands: ``train`` (fine-tune a den model in a background job) and
``jobs`` / ``jobs cancel`` (list jobs, cancel one, from any process).

``medcat-den train BASE_REF --train JSON [--devel JSON] --name N [--follow]`` runs
the ``MEDCAT_EMBEDDING_LINKER`` caikit trainer. With ``--follow`` the job runs in this
process with a live progress bar (Ctrl-C cancels it); without it, a detached worker
process owns the job and the command prints the job id and returns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from medcat_den.cli.common import emit_json, report
from medcat_den.errors import ConfigError, TrainingError

TERMINAL = ("COMPLETED", "CANCELED", "ERRORED")


def _trainer_config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if args.config:
        text = Path(args.config).read_text() if Path(args.config).is_file() else args.config
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            import yaml

            loaded = yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config must be a JSON/YAML mapping or a file holding one: "
                              f"{args.config!r}")
        config.update(loaded)
    for flag, key in (("epochs", "epochs"), ("batch_size", "batch_size"),
                      ("lr", "learning_rate"), ("seed", "seed"),
                      ("time_limit", "time_limit_s")):
        value = getattr(args, flag)
        if value is not None:
            config[key] = value
    return config


def _trainer_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {"use_subprocess": bool(args.subprocess)}
    if args.state_dir:
        settings["state_dir"] = args.state_dir
    if args.component_factory:
        settings["component_factory"] = args.component_factory
    for attr, key in (("den_type", "den_type"), ("den_path", "den_path"),
                      ("den_config", "den_config_file"), ("backend", "den_backend")):
        if getattr(args, attr, None):
            settings[key] = getattr(args, attr)
    return settings


def _submit(settings: dict[str, Any], request: dict[str, Any]) -> Any:
    from medcat_den.caikit import MedCATModule
    from medcat_den.caikit.trainers import MedCATLocalTrainer

    trainer = MedCATLocalTrainer(settings, "cli")
    return trainer.train(MedCATModule, **request)


def _request(args: argparse.Namespace) -> dict[str, Any]:
    return {"base_model": args.base_ref, "train_data": os.path.abspath(args.train),
            "eval_data": os.path.abspath(args.devel) if args.devel else None,
            "trainer_config": _trainer_config(args), "name": args.name,
            "aliases": args.alias or []}


def follow(future: Any, as_json: bool) -> int:
    """Show progress until the job ends; Ctrl-C cancels it. Exit code 0 = COMPLETED."""
    bar = None if as_json else tqdm(total=0, unit="step", desc="training")
    try:
        while not future.wait(0.5):
            info = future.get_info()
            if bar is not None and info.max_steps:
                bar.total = info.max_steps
                bar.update(info.step - bar.n)
                post = {"epoch": f"{info.epoch}/{info.num_epochs}", "phase": info.phase}
                if info.loss is not None:
                    post["loss"] = f"{info.loss:.4f}"
                if "f1" in info.metrics:
                    post["f1"] = f"{info.metrics['f1']:.3f}"
                bar.set_postfix(post, refresh=True)
    except KeyboardInterrupt:
        future.cancel()
        future.wait(10)
    finally:
        if bar is not None:
            bar.close()
    info = future.get_info()
    if as_json:
        emit_json({"id": future.id, **info.to_dict()})
    else:
        print(f"job {future.id}: {info.status.name}")
        for err in info.errors or []:
            print(f"  error: {err}")
        if info.result_ref:
            print(f"  pushed {info.result_ref} ({info.result_model_id})")
            shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(info.final_metrics.items()))
            if shown:
                print(f"  final metrics: {shown}")
    return 0 if info.status.name == "COMPLETED" else 1


def cmd_train(args: argparse.Namespace) -> int:
    for path in filter(None, (args.train, args.devel)):
        if not Path(path).is_file():
            raise TrainingError(f"training data file not found: {path}")
    settings, request = _trainer_settings(args), _request(args)
    if args.follow:
        return follow(_submit(settings, request), args.json)
    # a detached worker owns the job so that it outlives this command
    worker = subprocess.Popen(
        [sys.executable, "-m", "medcat_den.cli.train_cmd"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps({"settings": settings, "request": request}))
    worker.stdin.close()
    line = worker.stdout.readline().strip()
    if not line.startswith("{"):
        worker.wait(30)
        raise TrainingError(f"the training worker failed to start (exit {worker.returncode})")
    reply = json.loads(line)
    if "error" in reply:
        raise ConfigError(reply["error"])
    if args.json:
        emit_json(reply)
    else:
        print(f"started job {reply['id']} (worker pid {worker.pid}); follow it with "
              "`medcat-den jobs`, cancel it with `medcat-den jobs cancel ID`")
    return 0


def _find(store: Any, ref: str) -> Any:
    records = [r for r in store.list() if r.id == ref or r.uuid.startswith(ref.split(":")[-1])]
    if len(records) != 1:
        raise TrainingError(f"{'no' if not records else 'more than one'} job matches {ref!r}")
    return records[0]


def cmd_jobs(args: argparse.Namespace) -> int:
    from medcat_den.jobs import JobStore

    records = JobStore(args.state_dir).list()
    if args.json:
        emit_json([r.summary() for r in records])
        return 0
    if not records:
        print("no training jobs")
        return 0
    print(f"{'JOB':<10} {'STATUS':<10} {'PHASE':<9} {'EPOCH':>7} {'STEP':>11} {'F1':>6}  "
          f"{'SUBMITTED':<19}  RESULT / ERROR")
    for r in records:
        f1 = r.final_metrics.get("f1", r.metrics.get("f1"))
        tail = r.result_ref or (r.errors[-1] if r.errors else r.base_model)
        print(f"{r.uuid[:10]:<10} {r.status:<10} {r.phase:<9} {r.epoch:>3}/{r.num_epochs:<3} "
              f"{r.step:>5}/{r.max_steps:<5} {'' if f1 is None else f'{f1:.3f}':>6}  "
              f"{r.submitted_at:%Y-%m-%d %H:%M:%S}  {tail}")
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from medcat_den.jobs import JobStore

    store = JobStore(args.state_dir)
    record = _find(store, args.job_id)
    if not record.terminal:
        store.request_cancel(record.id)
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            current = store.read_checked(record.id)
            if current is None or current.terminal:
                break
            time.sleep(0.1)
        record = store.read_checked(record.id) or record
    report(args, record.summary(), f"job {record.id}: {record.status}")
    return 0 if record.status == "CANCELED" else 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("train", help="fine-tune a den model's trainable linker",
                              description=__doc__)
    p.add_argument("base_ref", help="den ref or content id of the base model")
    p.add_argument("--train", required=True, help="MedCATtrainer export (JSON) to train on")
    p.add_argument("--devel", help="MedCATtrainer export to evaluate on")
    p.add_argument("--name", required=True, help="den name of the trained model")
    p.add_argument("--alias", action="append", help="alias for the trained model (repeatable)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--seed", type=int)
    p.add_argument("--time-limit", type=float, help="stop training after this many seconds")
    p.add_argument("--config", help="TrainerConfig as JSON/YAML text or file")
    p.add_argument("--follow", action="store_true", help="run here and show live progress")
    p.add_argument("--subprocess", action="store_true", help="train in a child process")
    p.add_argument("--state-dir", help="job state dir (default MEDCAT_DEN_STATE_DIR)")
    p.add_argument("--component-factory", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_train)

    j = subparsers.add_parser("jobs", help="list training jobs; `jobs cancel ID` cancels one")
    j.add_argument("--state-dir", help="job state dir (default MEDCAT_DEN_STATE_DIR)")
    j.set_defaults(func=cmd_jobs)
    jsub = j.add_subparsers(dest="jobs_command", metavar="ACTION")
    c = jsub.add_parser("cancel", help="cancel a job (from any process)")
    c.add_argument("job_id", help="job id, or a unique prefix of its uuid")
    c.add_argument("--wait", type=float, default=10.0, help="seconds to wait for CANCELED")
    # SUPPRESS defaults: `jobs --state-dir X cancel ID` must keep the parent's value
    c.add_argument("--state-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    c.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    c.set_defaults(func=cmd_jobs_cancel)


def _worker_main() -> int:
    """Detached worker for ``train`` without ``--follow``: owns the job until it ends."""
    payload = json.loads(sys.stdin.read())
    try:
        future = _submit(payload["settings"], payload["request"])
    except Exception as err:  # reported to the parent command, which raises it
        print(json.dumps({"error": str(err)}), flush=True)
        return 1
    print(json.dumps({"id": future.id}), flush=True)
    sys.stdout.close()
    future.wait()
    return 0 if future.get_info().status.name == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(_worker_main())

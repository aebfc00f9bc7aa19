"""Entry point of a training subprocess (``use_subprocess: true``; spawned or forked).

:func:`subprocess_main` runs :func:`~medcat_den.jobs.run.train_to_pack` and talks to the
owning :class:`~medcat_den.jobs.local_job.TrainingJob` through a one-way pipe:
``("progress", Progress)``, then one of ``("done", JobOutcome)``, ``("canceled", str)``
or ``("error", str)``. Cancellation comes through the spec's ``cancel_file``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from medcat_den.errors import TrainingCanceledError
from medcat_den.jobs.progress import Progress
from medcat_den.jobs.run import RunHooks, error_message, train_to_pack
from medcat_den.jobs.spec import JobSpec
from medcat_den.training import CancellationToken

_log = logging.getLogger(__name__)


def subprocess_main(spec: JobSpec, conn: Any) -> None:
    """Run the job and send its outcome (or failure) to ``conn``; see module docstring."""
    logging.basicConfig(level=os.environ.get("MEDCAT_DEN_LOG_LEVEL", "WARNING"))

    def report(progress: Progress) -> None:
        conn.send(("progress", progress))

    try:
        outcome = train_to_pack(spec, RunHooks(report=report,
                                               token=CancellationToken(spec.cancel_file)))
        conn.send(("done", outcome))
    except TrainingCanceledError as err:
        conn.send(("canceled", str(err)))
    except BaseException as err:
        _log.debug("training subprocess failed", exc_info=True)
        conn.send(("error", error_message(err)))
    finally:
        conn.close()

"""optimize's trials on Ray: each Ray task is a tuning worker, ``optimize --workers``' helper
process moved onto the cluster.

Every task opens the project's Optuna study from its storage, asks it for trials with its own
sampler seed (TPE, the same search space), runs them fold by fold with the study's pruner, and
writes them back: the study, not Ray, is where the search lives, so the trials, the pruning, the
resumption after a stop and the ensemble built from them are those of a local run, and the gate
records the result in MLflow as it always does. Each task asks Ray for ``trial_cpus`` CPUs and
runs its models with that many threads, so trials never oversubscribe a node.

Why not Ray Tune's ``OptunaSearch``: it samples in the driver and stops trials with Ray Tune's
schedulers, not Optuna's pruner, and it does not give the trainable its Optuna trial, whose number
names the out-of-fold predictions the ensemble is built from. Running the existing workers as Ray
tasks keeps one definition of a trial for both backends.

On several machines the study must be in a database every node reaches (``tracking.studies``: a
PostgreSQL URL) and the project folder on a shared file system (the tasks read the data and write
the out-of-fold predictions there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from poc2prod.scale._cluster import connect


def tune_on_ray(
    project,
    study_name: str,
    stop_file: Path,
    until: Callable[[], float],
    *,
    workers: int,
    trial_cpus: int,
    seed: int,
    trials: int | None,
    address: str | None,
    on_poll: Callable[[], None] | None = None,
) -> dict:
    """Run ``workers`` tuning tasks until ``until()`` (``time.monotonic``) or until ``trials``
    trials are finished; ``on_poll`` is called about once a second meanwhile (progress). Returns
    what ran where: the address, the tasks, and how each ended."""
    ray = connect(address)
    from poc2prod.gates._optimize import work

    remote = ray.remote(work).options(
        num_cpus=trial_cpus,
        max_retries=0,
        runtime_env={"env_vars": {v: str(trial_cpus) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}},
    )
    until_epoch = time.time() + (until() - time.monotonic())
    tasks = [
        remote.remote(
            str(project.root.resolve()), study_name, str(stop_file), until_epoch, trial_cpus, seed + i, trials
        )
        for i in range(workers)
    ]
    pending, failures = list(tasks), []
    stopped = False
    while pending:
        done, pending = ray.wait(pending, num_returns=len(pending), timeout=1.0)
        for ref in done:
            try:
                ray.get(ref)
            except Exception as e:  # a task that failed is reported; the others go on
                failures.append(str(e).splitlines()[-1])
        if on_poll:
            on_poll()
        if not stopped and time.monotonic() > until():
            stop_file.touch()  # tasks end after the fold in flight
            stopped = True
            grace = time.monotonic() + 30
        if stopped and time.monotonic() > grace:
            for ref in pending:
                ray.cancel(ref, force=True)
            failures += ["stopped after the deadline"] * len(pending)
            break
    return {
        "backend": "ray",
        "address": ray.get_runtime_context().gcs_address,
        "tasks": workers,
        "trial_cpus": trial_cpus,
        "failures": failures,
    }

"""Judging many files on every core: a list of jobs run in forked worker processes.

A forked worker starts with everything the parent has loaded (modules, the policy), so it costs
a few milliseconds; results come back pickled, in order. Below `MIN_JOBS_PER_WORKER` jobs per
worker the start-up costs more than it saves (measured with bench/bench_check.py: about 5 ms
of work per config without the result cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

MIN_JOBS_PER_WORKER = 8

_task: Callable[[Any], Any] | None = None
"""The function the workers run: set before they fork, so it is inherited, never pickled."""


def worker_count(jobs: int) -> int:
    """How many processes `jobs` jobs are worth: 1 means run them here. Also 1 when this
    process runs other threads (a test runner's, say): a fork copies only the calling thread,
    and a lock another thread holds would stay locked in the child."""
    if jobs < 2 * MIN_JOBS_PER_WORKER:
        return 1
    import multiprocessing
    import threading

    if threading.active_count() > 1:
        return 1

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, jobs // MIN_JOBS_PER_WORKER))


def map_in_workers(function: Callable[[Job], Result], jobs: list[Job],
                   workers: int) -> list[Result]:
    """`[function(job) for job in jobs]`, computed by `workers` forked processes (see
    `worker_count`)."""
    import multiprocessing

    global _task
    _task = function
    try:
        context = multiprocessing.get_context("fork")
        # Small chunks keep both workers busy to the end; each chunk is one round trip.
        chunk = max(1, len(jobs) // (workers * 8))
        with context.Pool(workers, initializer=_ignore_interrupts) as pool:
            return list(pool.imap(_run, jobs, chunk))
    finally:
        _task = None


def _run(job: Any) -> Any:
    assert _task is not None
    return _task(job)


def _ignore_interrupts() -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers just end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

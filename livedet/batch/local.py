"""The local runner: worker processes on this machine, each with its own copy of the model.

Processes are started with the spawn method: TensorFlow is not fork-safe. Each worker has its
own inbox, so the driver always knows which file a worker holds; a worker that dies (killed, out
of memory, a crash in native code) is noticed by its exit, its partial files are removed, its
file goes back in the queue, and a fresh worker takes its place.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from livedet.batch.events import FINISHED, FRAMES, RETRY, STARTED, Event, EventHandler, died_result
from livedet.batch.inputs import Job
from livedet.batch.work import BatchSettings, FileResult, remove_partials
from livedet.errors import ModelError, RuntimeFailure

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2


def default_workers() -> int:
    """One model copy per two cores, at least one: TF already uses several cores per copy, and
    on a small machine a second copy mostly doubles memory (see docs/batch.md for measurements)."""
    return max(1, (os.cpu_count() or 1) // 2)


@dataclass
class _Worker:
    name: str
    process: Any  # multiprocessing.Process (spawn context)
    inbox: Any
    # The worker's own pipe back to the driver: a worker killed in the middle of a message can
    # only break its own pipe (a queue shared by all workers would stay locked for the rest).
    receiver: Any
    job: Job | None = None
    pid: int = 0
    ready: bool = False


@dataclass
class LocalRunner:
    """`workers`: model copies (processes); `max_attempts`: tries per file when workers die."""

    settings: BatchSettings
    workers: int = field(default_factory=default_workers)
    max_attempts: int = 3

    def run(self, jobs: list[Job], on_event: EventHandler) -> list[FileResult]:
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        todo: deque[Job] = deque(jobs)
        attempts = dict.fromkeys((job.index for job in jobs), 0)
        results: dict[int, FileResult] = {}
        pool: dict[str, _Worker] = {}
        spawned = 0

        def spawn() -> None:
            nonlocal spawned
            name = f"local-{spawned}"
            spawned += 1
            inbox = context.Queue()
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_main,
                args=(name, self.settings, threads, inbox, sender),
                name=f"livedet-batch-{name}",
                daemon=True,
            )
            process.start()
            sender.close()  # the worker holds the sending end now
            pool[name] = _Worker(name, process, inbox, receiver)

        try:
            for _ in range(min(self.workers, len(jobs))):
                spawn()
            while len(results) < len(jobs):
                for worker in pool.values():  # hand out work to idle, ready workers
                    if worker.ready and worker.job is None and todo:
                        worker.job = todo.popleft()
                        attempts[worker.job.index] += 1
                        worker.inbox.put(worker.job)
                self._drain(pool, results, attempts, on_event)
                for worker in list(pool.values()):
                    if worker.process.is_alive():
                        continue
                    self._drain(pool, results, attempts, on_event)  # its last words first
                    del pool[worker.name]
                    job = worker.job
                    if job is not None and job.index not in results:
                        detail = f"exit code {worker.process.exitcode}"
                        remove_partials(job)
                        if attempts[job.index] >= self.max_attempts:
                            results[job.index] = died_result(job, attempts[job.index], detail)
                            on_event(Event(FINISHED, job.index, result=results[job.index]))
                        else:
                            todo.appendleft(job)
                            on_event(
                                Event(RETRY, job.index, worker.name, worker.pid, detail=detail)
                            )
                    if todo and len(pool) < self.workers:
                        if spawned >= self.workers + self.max_attempts * len(jobs):
                            raise RuntimeFailure(
                                "batch workers keep dying before taking a file; "
                                "run one file with `livedet --video` to see why"
                            )
                        spawn()
        finally:
            for worker in pool.values():
                if worker.process.is_alive():
                    worker.inbox.put(None)
            for worker in pool.values():
                worker.process.join(timeout=10)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join()
                if worker.job is not None and worker.job.index not in results:
                    remove_partials(worker.job)
                # Its lock and semaphore are freed now, not left to interpreter exit (where the
                # resource tracker warned of "leaked semaphore objects" now and then).
                worker.inbox.close()
                worker.inbox.join_thread()
        return [results[job.index] for job in jobs]

    def _drain(
        self,
        pool: dict[str, _Worker],
        results: dict[int, FileResult],
        attempts: dict[int, int],
        on_event: EventHandler,
    ) -> None:
        """Handle every message waiting, blocking up to POLL_SECONDS for the first one."""
        timeout = POLL_SECONDS
        while True:
            open_pipes = [w.receiver for w in pool.values() if not w.receiver.closed]
            readable = multiprocessing.connection.wait(open_pipes, timeout=timeout)
            if not readable:
                return
            timeout = 0.01
            for receiver in readable:
                connection: Any = receiver
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    connection.close()  # a worker that died: its exit is handled by the caller
                    continue
                self._handle(message, pool, results, attempts, on_event)

    def _handle(
        self,
        message: tuple[str, str, int, Any],
        pool: dict[str, _Worker],
        results: dict[int, FileResult],
        attempts: dict[int, int],
        on_event: EventHandler,
    ) -> None:
        kind, name, pid, payload = message
        worker = pool.get(name)
        if kind == "load_failed":
            raise ModelError(payload)
        if worker is None:
            return  # a worker already replaced; what it said no longer counts
        worker.pid = pid
        if kind == "ready":
            worker.ready = True
        elif kind == STARTED and worker.job is not None:
            on_event(Event(STARTED, worker.job.index, name, pid))
        elif kind == FRAMES and worker.job is not None:
            on_event(Event(FRAMES, worker.job.index, name, pid, frames=payload))
        elif kind == FINISHED and worker.job is not None:
            result: FileResult = payload
            index = worker.job.index
            result.attempts = attempts[index]
            worker.job = None
            if index not in results:  # a redone file reported twice counts once
                results[index] = result
                on_event(Event(FINISHED, index, name, pid, result=result))


def _worker_main(name: str, settings: BatchSettings, threads: int, inbox: Any, outbox: Any) -> None:
    """A worker process: load the model once, then process files until told to stop (None)."""
    from livedet.batch.work import load_worker_model, process_file
    from livedet.errors import LivedetError, one_line

    pid = os.getpid()
    try:
        model = load_worker_model(settings, threads)
    except LivedetError as e:
        outbox.send(("load_failed", name, pid, one_line(str(e))))
        return
    outbox.send(("ready", name, pid, None))
    while True:
        job: Job | None = inbox.get()
        if job is None:
            return
        outbox.send((STARTED, name, pid, None))
        started = time.perf_counter()
        result = process_file(
            model,
            job,
            settings,
            worker=name,
            on_frames=lambda n: outbox.send((FRAMES, name, pid, n)),
        )
        log.debug("%s: %s in %.1f s", name, job.input, time.perf_counter() - started)
        outbox.send((FINISHED, name, pid, result))

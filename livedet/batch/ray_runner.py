"""The Ray runner: one actor per model copy on a Ray cluster (a laptop or hundreds of nodes).

Each actor loads the model once and processes whole files, writing the outputs itself: the paths
must be visible on every node (shared storage), see docs/batch.md. Only small results travel
back to the driver. When an actor dies mid-file (ActorDiedError), the driver removes the partial
files, puts the file back in the queue for whichever actor is free next, and starts a
replacement actor (Ray places it wherever resources are free): the driver, not Ray's task retry,
decides, so a file that keeps killing workers is given up after `max_attempts` and reported like
any bad file.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livedet.batch.events import FINISHED, FRAMES, RETRY, STARTED, Event, EventHandler, died_result
from livedet.batch.inputs import Job
from livedet.batch.work import BatchSettings, FileResult, remove_partials
from livedet.errors import ModelError, RuntimeFailure, UsageError, one_line

log = logging.getLogger(__name__)
POLL_SECONDS = 0.3
INSTALL_HINT = "--ray needs Ray: pip install 'livedet[ray]' (or pip install 'ray>=2.9')"


def import_ray(address: str = "auto") -> Any:
    """Import Ray, set up for `address` (see `connect`); UsageError with the pip line if missing.

    A private instance must listen on 127.0.0.1 only. Ray 2.x turns a requested 127.0.0.1 into
    the machine's reachable address and binds its servers to every interface, unless
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which Ray reads once, at import: hence here."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from a batch job
    if _private_instance(address):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as e:
        raise UsageError(INSTALL_HINT) from e
    return ray


def _private_instance(address: str) -> bool:
    """Will `connect` start a new local instance? (Ray's own rule for "auto": RAY_ADDRESS, or
    the file `ray start` leaves on this node.)"""
    if address == "local":
        return True
    running = os.environ.get("RAY_ADDRESS") or os.path.exists("/tmp/ray/ray_current_cluster")
    return address == "auto" and not running


def connect(ray: Any, address: str) -> bool:
    """Connect to Ray; return True if this call started it (and the caller must shut it down).

    "auto": the cluster of this node (`ray start`, or RAY_ADDRESS), else a new private one;
    "local": always a new private one; anything else: a cluster address (host:6379, ray://...).
    A private instance listens on 127.0.0.1 only and has no dashboard."""
    if ray.is_initialized():
        return False  # the caller (a test, a notebook) already chose the cluster
    if address not in ("auto", "local"):
        ray.init(address=address, logging_level=logging.WARNING)
        return True
    if address == "auto":
        try:
            ray.init(address="auto", logging_level=logging.WARNING)
            return True
        except ConnectionError:
            log.info("no running Ray cluster found; starting a local one")
    ray.init(
        address="local",
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level=logging.WARNING,
    )
    return True


class BatchWorker:
    """The actor: a loaded model and the file it is on. Threaded (max_concurrency=2), so the
    driver can ask `status()` while `process()` runs."""

    def __init__(self, settings: BatchSettings, threads: int | None) -> None:
        from livedet.batch.work import load_worker_model
        from livedet.errors import LivedetError

        self.settings = settings
        self.current = -1
        self.frames = 0
        self.load_error = ""
        try:
            self.model: Any = load_worker_model(settings, threads)
        except LivedetError as e:
            self.load_error = one_line(str(e))

    def ready(self) -> tuple[int, str]:
        return os.getpid(), self.load_error

    def status(self) -> tuple[int, int, int]:
        """(pid, index of the file in progress or -1, frames done in it)."""
        return os.getpid(), self.current, self.frames

    def process(self, job: Job, name: str) -> FileResult:
        from livedet.batch.work import process_file

        self.current, self.frames = job.index, 0
        try:
            return process_file(self.model, job, self.settings, worker=name, on_frames=self._count)
        finally:
            self.current = -1

    def _count(self, frames: int) -> None:
        self.frames = frames


@dataclass
class RayRunner:
    """`address`: see `connect`. `workers`: actors (model copies). `cpus_per_worker` and
    `gpus_per_worker`: what Ray reserves for each actor, so it places them where those are free
    (a fraction such as 0.5 puts two actors on one GPU). `max_attempts`: tries per file when
    actors die."""

    settings: BatchSettings
    address: str = "auto"
    workers: int = 1
    cpus_per_worker: float | None = None  # None: the cluster's CPUs shared out
    gpus_per_worker: float = 0.0
    max_attempts: int = 3

    def run(self, jobs: list[Job], on_event: EventHandler) -> list[FileResult]:
        ray = import_ray(self.address)
        started_ray = connect(ray, self.address)
        actors: dict[str, Any] = {}
        try:
            workers = min(self.workers, len(jobs))
            cpus = self.cpus_per_worker or max(
                1.0, float(ray.cluster_resources().get("CPU", 1)) // max(workers, 1)
            )
            actor_class = ray.remote(BatchWorker).options(
                num_cpus=cpus,
                num_gpus=self.gpus_per_worker,
                max_restarts=0,  # the driver replaces a dead actor, resubmits, counts attempts
                max_task_retries=0,
                max_concurrency=2,
            )
            threads = max(1, int(cpus))  # TF threads = the CPUs Ray reserved for the actor

            def new_actor() -> Any:
                return actor_class.remote(self.settings, threads)

            for i in range(workers):
                actors[f"ray-{i}"] = new_actor()
            pids = {}
            for name, (pid, error) in zip(
                actors, ray.get([a.ready.remote() for a in actors.values()]), strict=True
            ):
                if error:
                    raise ModelError(error)
                pids[name] = pid
            return self._schedule(ray, actors, new_actor, pids, jobs, on_event)
        finally:
            for actor in actors.values():
                ray.kill(actor, no_restart=True)  # free the model copies on a shared cluster
            if started_ray:
                ray.shutdown()

    def _schedule(
        self,
        ray: Any,
        actors: dict[str, Any],
        new_actor: Callable[[], Any],
        pids: dict[str, int],
        jobs: list[Job],
        on_event: EventHandler,
    ) -> list[FileResult]:
        from ray.exceptions import RayActorError

        todo: deque[Job] = deque(jobs)
        attempts = dict.fromkeys((job.index for job in jobs), 0)
        results: dict[int, FileResult] = {}
        idle = deque(actors)
        running: dict[Any, tuple[str, Job]] = {}  # process() ref -> (actor, job)
        restarting: dict[Any, str] = {}  # ready() ref of a replacement actor -> its name
        replacements = 0
        polls: dict[Any, str] = {}  # status() ref -> actor
        while len(results) < len(jobs):
            while idle and todo:
                name, job = idle.popleft(), todo.popleft()
                attempts[job.index] += 1
                running[actors[name].process.remote(job, name)] = (name, job)
                on_event(Event(STARTED, job.index, name, pids.get(name, 0)))
            if not running and not restarting:
                raise RuntimeFailure("every Ray worker died; see the Ray logs (`ray logs`)")
            waiting = [*running, *restarting]
            finished, _ = ray.wait(waiting, num_returns=1, timeout=POLL_SECONDS)
            for ref in finished:
                if ref in restarting:  # a replacement, with its model loaded (or dead)
                    name = restarting.pop(ref)
                    try:
                        pids[name] = ray.get(ref)[0]
                        idle.append(name)
                    except RayActorError as e:
                        log.warning(
                            "a replacement Ray worker failed to start: %s", one_line(str(e))
                        )
                    continue
                name, job = running.pop(ref)
                try:
                    result: FileResult = ray.get(ref)
                except RayActorError as e:
                    remove_partials(job)
                    detail = f"{type(e).__name__} on {name}"
                    if attempts[job.index] >= self.max_attempts:
                        results[job.index] = died_result(job, attempts[job.index], detail)
                        on_event(Event(FINISHED, job.index, name, result=results[job.index]))
                    else:
                        todo.appendleft(job)
                        on_event(Event(RETRY, job.index, name, pids.get(name, 0), detail=detail))
                    replacements += 1
                    if replacements > self.max_attempts * len(jobs):
                        raise RuntimeFailure("Ray workers keep dying; see the Ray logs") from e
                    ray.kill(actors[name], no_restart=True)
                    actors[name] = new_actor()  # Ray places it where resources are free
                    restarting[actors[name].ready.remote()] = name  # takes work once loaded
                    continue
                result.attempts = attempts[job.index]
                results[job.index] = result
                on_event(Event(FINISHED, job.index, name, pids.get(name, 0), result=result))
                idle.append(name)
            self._poll_frames(ray, actors, pids, running, polls, on_event)
        return [results[job.index] for job in jobs]

    def _poll_frames(
        self,
        ray: Any,
        actors: dict[str, Any],
        pids: dict[str, int],
        running: dict[Any, tuple[str, Job]],
        polls: dict[Any, str],
        on_event: EventHandler,
    ) -> None:
        """Ask busy actors how far they are; never wait for an answer (one may be dying)."""
        answered, _ = (
            ray.wait(list(polls), num_returns=len(polls), timeout=0) if polls else ([], [])
        )
        for ref in answered:
            name = polls.pop(ref)
            try:
                pid, index, frames = ray.get(ref)
            except Exception:  # a dead or restarting actor: its process() ref will say so
                continue
            pids[name] = pid
            if index >= 0 and frames:
                on_event(Event(FRAMES, index, name, pid, frames=frames))
        asked = set(polls.values())
        for name, _job in running.values():
            if name not in asked:
                polls[actors[name].status.remote()] = name

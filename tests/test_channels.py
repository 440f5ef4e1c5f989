"""livedet.pipeline.channels and .shutdown: bounded channels between threads that never block
past an abort, and the Shutdown object (first reason wins; a second Ctrl-C aborts)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from livedet.pipeline.channels import END, Channel
from livedet.pipeline.shutdown import ExitReason, Shutdown

CTRL_C, MAX_FRAMES, SIGTERM = ExitReason.CTRL_C, ExitReason.MAX_FRAMES, ExitReason.SIGTERM


def in_thread(body: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(body(*args)), daemon=True)
    thread.start()
    return thread, result


def test_newest_only_drops_the_oldest_and_reports_it() -> None:
    dropped: list[int] = []
    channel = Channel(2, Shutdown(), newest_only=True, on_drop=dropped.append)
    for item in range(5):
        assert channel.put(item) is True  # never blocks
    assert dropped == [0, 1, 2]
    assert [channel.get(), channel.get()] == [3, 4]  # the newest frames, in order
    assert channel.get(timeout=0.01) is None


@pytest.mark.timeout(10)
def test_a_full_channel_makes_put_wait_until_there_is_room() -> None:
    channel = Channel(2, Shutdown())
    channel.put("a")
    channel.put("b")
    thread, result = in_thread(channel.put, "c")
    thread.join(0.2)
    assert thread.is_alive() and len(channel) == 2  # backpressure: nothing lost, nothing added
    assert channel.get() == "a"
    thread.join(5)
    assert result == [True]
    assert [channel.get(), channel.get()] == ["b", "c"]


def test_close_gives_end_once_drained() -> None:
    ready: list[str] = []
    channel = Channel(4, Shutdown(), on_ready=lambda: ready.append("ready"))
    channel.put(1)
    channel.close()
    assert not channel.finished  # an item is still waiting
    assert channel.get() == 1
    assert channel.get() is END and channel.get() is END
    assert channel.finished
    assert ready == ["ready", "ready"]  # after the put and after the close


def test_take_never_waits() -> None:
    channel = Channel(1, Shutdown())
    assert channel.take() is None
    channel.put("x")
    assert channel.take() == "x"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("side", ["put", "get"])
def test_abort_unblocks_a_waiting_put_or_get(side: str) -> None:
    shutdown = Shutdown()
    channel = Channel(1, shutdown)
    if side == "put":
        channel.put("full")
        thread, result = in_thread(channel.put, "more")
    else:
        thread, result = in_thread(channel.get)
    thread.join(0.2)
    assert thread.is_alive()
    started = time.perf_counter()
    shutdown.abort()
    thread.join(5)
    assert not thread.is_alive() and time.perf_counter() - started < 1
    assert result == [False] if side == "put" else result == [END]
    assert channel.finished


def test_stop_alone_does_not_unblock_a_put() -> None:
    """A stop finishes the frames in flight: only an abort may make a put give up."""
    shutdown = Shutdown()
    channel = Channel(1, shutdown)
    channel.put("in flight")
    shutdown.stop(CTRL_C)
    thread, result = in_thread(channel.put, "next")
    thread.join(0.2)
    assert thread.is_alive()
    assert channel.get() == "in flight"
    thread.join(5)
    assert result == [True]


def test_the_first_reason_wins() -> None:
    shutdown = Shutdown()
    assert (shutdown.stopping, shutdown.aborted, shutdown.reason) == (False, False, None)
    shutdown.stop(MAX_FRAMES)
    shutdown.stop(SIGTERM)
    assert shutdown.reason == MAX_FRAMES
    assert shutdown.stopping and not shutdown.aborted


def test_a_second_escalating_stop_aborts() -> None:
    shutdown = Shutdown()
    shutdown.stop(CTRL_C, escalate=True)
    assert shutdown.stopping and not shutdown.aborted  # the first Ctrl-C finishes what is in flight
    shutdown.stop(CTRL_C, escalate=True)
    assert shutdown.aborted and shutdown.reason == CTRL_C


def test_an_abort_is_also_a_stop_and_wait_returns_at_once() -> None:
    shutdown = Shutdown()
    assert shutdown.wait(0.01) is False
    shutdown.abort()
    assert shutdown.stopping and shutdown.reason is None
    started = time.perf_counter()
    assert shutdown.wait(10) is True
    assert time.perf_counter() - started < 1

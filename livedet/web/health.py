"""The health verdict of /healthz: whether the kiosk works, judged from when each source last
published a frame and since when it has been down. A pure function of those figures, apart from
the hub that gathers them (hub.py), so the rule that makes systemd or an orchestrator restart
the kiosk reads in one place and needs no threads to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **({"reason": self.reason} if self.reason else {}), **self.detail}


def judge_health(
    now: float,
    *,
    outage_limit_s: float,
    stall_limit_s: float,
    status_sources: Mapping[str, Any],
    frame_times: Mapping[str, float],
    down_since: Mapping[str, float],
    running_since: float | None,
) -> Health:
    """Not ok when a source is down longer than `outage_limit_s`, or, while the pipeline runs
    (`running_since` set), a live source published no frame for `stall_limit_s`; the detail
    names the source and for how long. `frame_times`: when each source last published a frame;
    `status_sources`: the sources the status names; `down_since`: when each down source went
    down (all on the clock of `now`)."""
    for name, since in sorted(down_since.items()):
        if now - since > outage_limit_s:
            return Health(
                False,
                f"source {name} down for {now - since:.0f} s (limit {outage_limit_s:g} s)",
                {"source": name},
            )
    if running_since is not None:
        for name in sorted(set(frame_times) | set(status_sources)):
            if name in down_since:
                continue  # an outage is judged by the outage limit above
            last = max(frame_times.get(name, running_since), running_since)
            if now - last > stall_limit_s:
                return Health(
                    False,
                    f"no frame from {name} for {now - last:.0f} s "
                    f"(stall limit {stall_limit_s:g} s)",
                    {"source": name},
                )
        if not frame_times and not status_sources and now - running_since > stall_limit_s:
            return Health(False, f"no frame for {now - running_since:.0f} s", {})
    state = "running" if running_since is not None else "idle"
    sources = len(set(frame_times) | set(status_sources))
    return Health(True, "", {"state": state, "sources": sources})

"""`livedet bench`'s verdicts and its table: each target checked against what this run measured,
then every measurement and verdict as one Markdown table."""

from __future__ import annotations

import math
from typing import Any

from livedet.bench import extras


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value, the limit and whether it is met (None: not run)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, measured: float | None, limit: float | None, at_least: bool) -> None:
        met = None
        if measured is not None and limit is not None and not math.isnan(measured):
            met = measured >= limit if at_least else measured <= limit
        checks.append(
            {
                "target": name,
                "measured": _round(measured),
                "limit": _round(limit),
                "op": ">=" if at_least else "<=",
                "met": met,
            }
        )

    ceiling = results["model_only"]["fps_best"]
    file_fps = results["file_mode"]["fps"]
    check("file mode / model-only ceiling (best batch)", file_fps / ceiling, 0.9, True)
    check("file mode / hand-written loop", file_fps / results["loop"]["fps"], 1.5, True)
    heavy = results.get("heavy")
    if heavy:
        heavy_fps = heavy["file_mode"]["fps"]
        check("heavy: file mode / hand-written loop", heavy_fps / heavy["loop"]["fps"], 1.0, True)
        check(
            "heavy: file mode / model-only ceiling (batch 1)",
            heavy_fps / heavy["model_only"]["fps_batch1"],
            0.95,
            True,
        )
    live = results.get("live")
    if live:
        budget = results["model_only"]["ms_per_frame_batch1"] + 1000 / live["camera_fps"] + 20
        check(
            "live: p95 latency ms (<= inference + frame interval + 20 ms)",
            live["latency_ms"]["p95"],
            budget,
            False,
        )
        first, last = live["p95_first_ms"], live["p95_last_ms"]
        drift = abs(last - first) / first if first else None
        check(f"live: p95 change, last vs first {live['window_s']:.0f} s", drift, 0.2, False)
    extras.targets(results, check)
    if results.get("backends"):
        from livedet.bench.backends import check_targets

        check_targets(results["backends"], check)
    if results.get("real_model"):
        from livedet.bench import real_model

        real_model.targets(results["real_model"], check)
    rss = results.get("rss")
    if rss:
        check(f"RSS growth MB over {rss['frames']} frames", rss["growth_mb"], 50.0, False)
    return checks


# -- report -------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    """One Markdown table: every measurement, then every target with its verdict."""
    rows: list[tuple[str, str, str, str]] = []

    def add(what: str, value: str, target: str = "", met: str = "") -> None:
        rows.append((what, value, target, met))

    def section(prefix: str, r: dict[str, Any]) -> None:
        only = r["model_only"]
        for size, fps in only["fps_by_batch"].items():
            add(f"{prefix}model only, batch {size}", f"{fps:.1f} fps")
        add(f"{prefix}model only, ms per frame at batch 1", f"{only['ms_per_frame_batch1']:.1f}")
        add(f"{prefix}hand-written loop ({r['loop']['writer']})", f"{r['loop']['fps']:.1f} fps")
        fm = r["file_mode"]
        add(f"{prefix}livedet file mode (batch {fm['batch_size']})", f"{fm['fps']:.1f} fps")
        stages = ", ".join(f"{k[:3]} {v:.1f}" for k, v in fm["stage_ms_per_frame"].items())
        add(f"{prefix}  stage ms/frame", stages)
        add(
            f"{prefix}  sum of stages vs wall, ms/frame",
            f"{fm['stage_sum_ms']:.1f} vs {fm['wall_ms_per_frame']:.1f}",
        )

    m = results["machine"]
    add("machine", f"{m['cpu']} ({m['cpus']} CPUs), TF {m['tensorflow']}")
    add(
        "input",
        f"{results['input']['video']} {results['input']['frame_size']}, "
        f"model {results['input']['model']}",
    )
    section("", results)
    add(
        "model-only ceiling / loop (the most overlap and batching can give)",
        f"x{results['model_only']['fps_best'] / results['loop']['fps']:.2f}",
    )
    for size, r in (results.get("batch_sweep") or {}).items():
        add(f"livedet file mode, batch {size}", f"{r['fps']:.1f} fps")
    live = results.get("live")
    if live:
        lat = live["latency_ms"]
        add(
            f"live {live['seconds']:.0f} s @ {live['camera_fps']:.0f} fps: latency p50/p95/max",
            f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['max']:.0f} ms",
        )
        add(
            f"live: p95 first / last {live['window_s']:.0f} s",
            f"{live['p95_first_ms']:.0f} / {live['p95_last_ms']:.0f} ms",
        )
        add(
            "live: output fps, dropped",
            f"{live['output_fps']:.1f} fps, {live['frames_dropped']} of {live['frames_captured']}",
        )
    rss = results.get("rss")
    if rss:
        add(
            f"RSS over {rss['frames']} frames (after warm-up -> end, peak)",
            f"{rss['rss_after_warmup_mb']:.0f} -> {rss['rss_end_mb']:.0f} MB "
            f"(peak {rss['rss_peak_mb']:.0f})",
        )
    heavy = results.get("heavy")
    if heavy:
        section("heavy: ", heavy)
        traced = heavy["traced_loop"]
        add(
            f"heavy: {traced['group']} frames per traced call vs Python calls",
            f"{traced['traced_fps']:.2f} vs {traced['python_calls_fps']:.2f} fps "
            f"(x{traced['speedup']:.2f})",
        )
    if results.get("backends"):
        from livedet.bench import backends

        backends.rows(results["backends"], add)
    if results.get("real_model"):
        from livedet.bench import real_model

        real_model.rows(results["real_model"], add)
    extras.rows(results, add)
    for t in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        add(t["target"], _fmt(t["measured"]), f"{t['op']} {_fmt(t['limit'])}", verdict)
    widths = [
        max(len(r[i]) for r in [*rows, ("measurement", "value", "target", "met")]) for i in range(4)
    ]
    lines = [
        "| "
        + " | ".join(
            h.ljust(w)
            for h, w in zip(("measurement", "value", "target", "met"), widths, strict=True)
        )
        + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"

"""The command line's flags for watching a run: the web view and MQTT, tracking and counting
(lines, zones, events, clips), and privacy. A part of livedet.arguments' grammar."""

from __future__ import annotations

import argparse
from pathlib import Path

from livedet.config import Config
from livedet.tracking_engines import ENGINES

DEFAULTS = Config()  # the flags' defaults are Config's: one place for each


def add_watching_flags(p: argparse.ArgumentParser) -> None:
    web = p.add_argument_group("watching from elsewhere")
    web.add_argument(
        "--serve",
        metavar="[HOST:]PORT",
        help="web view of every source, /api/stats, /api/events and /healthz (127.0.0.1 unless "
        "a HOST is given, which needs a token)",
    )
    web.add_argument("--serve-token", metavar="TOKEN", help="required on every web request")
    web.add_argument(
        "--serve-token-file", type=Path, metavar="FILE", help="the token, from a file's first line"
    )
    web.add_argument(
        "--serve-max-viewers",
        type=int,
        default=DEFAULTS.serve_max_viewers,
        metavar="N",
        help=f"streams at once ({DEFAULTS.serve_max_viewers})",
    )
    web.add_argument(
        "--health-outage-limit",
        type=float,
        default=DEFAULTS.health_outage_limit,
        metavar="S",
        help=f"/healthz fails when a source is down this long ({DEFAULTS.health_outage_limit:g})",
    )
    web.add_argument(
        "--health-stall-limit",
        type=float,
        default=DEFAULTS.health_stall_limit,
        metavar="S",
        help=f"/healthz fails when no frame came for this long ({DEFAULTS.health_stall_limit:g})",
    )
    web.add_argument(
        "--mqtt", metavar="mqtt://HOST[:PORT]/PREFIX", help="events and stats to an MQTT broker"
    )
    trk = p.add_argument_group("tracking and counting")
    trk.add_argument(
        "--track",
        action="store_true",
        help="stable ids on boxes; live: every camera frame shown, boxes carried between "
        "inferences",
    )
    trk.add_argument(
        "--tracker",
        choices=ENGINES,
        default=DEFAULTS.tracker,
        help=f"how boxes are linked over time ({DEFAULTS.tracker}; docs/tracking.md compares them)",
    )
    trk.add_argument(
        "--camera-motion",
        action="store_true",
        help="the camera shakes or pans: follow its motion so ids hold (about 4-6 ms an inference)",
    )
    trk.add_argument(
        "--no-appearance",
        dest="appearance",
        action="store_false",
        help="a returning object always gets a new id (default: its old one if it looks the "
        "same, so a look-alike newcomer can take it)",
    )
    trk.add_argument(
        "--line",
        dest="lines",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2[:NAME]",
        help="count crossings in/out (pixels, or fractions of the frame if all <= 1)",
    )
    trk.add_argument(
        "--zone",
        dest="zones",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2,X3,Y3,...[:NAME]",
        help="count objects inside, entries, exits and dwell time",
    )
    trk.add_argument(
        "--events", type=Path, metavar="FILE.jsonl", help="one line per enter/exit/cross event"
    )
    trk.add_argument(
        "--clips",
        type=Path,
        metavar="DIR",
        help="a video clip and snapshots of each appearance, zone entry and line crossing, "
        "in DIR/<source>/",
    )
    for flag, help_text in (
        ("--pre-roll", "seconds of video before the event in its clip"),
        ("--post-roll", "seconds after the object was last seen"),
    ):
        default = getattr(DEFAULTS, flag[2:].replace("-", "_"))
        trk.add_argument(
            flag, type=float, default=default, metavar="S", help=f"{help_text} ({default:g})"
        )
    trk.add_argument(
        "--keep-days",
        type=float,
        metavar="N",
        help="remove clips, snapshots and --out-dir recordings older than N days",
    )
    trk.add_argument(
        "--keep-gb",
        type=float,
        metavar="G",
        help="remove the oldest clips, snapshots and recordings beyond G gigabytes",
    )
    trk.add_argument(
        "--loiter",
        type=float,
        metavar="S",
        help='a "loiter" event when an object stays in a zone over S seconds (per zone: :loiter=S)',
    )
    trk.add_argument(
        "--require-zone",
        metavar="NAME",
        help="events only for objects that are, or were, inside zone NAME",
    )
    prv = p.add_argument_group("privacy")
    prv.add_argument(
        "--mask",
        dest="masks",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2,X3,Y3,...",
        help="hide this polygon in every output, before the model (pixels, or fractions if all "
        "<= 1); repeatable",
    )
    prv.add_argument(
        "--mask-style",
        choices=("black", "blur"),
        default=DEFAULTS.mask_style,
        metavar="black|blur",
        help=f"how masks are hidden (default {DEFAULTS.mask_style})",
    )
    prv.add_argument(
        "--keep-masked-detections",
        action="store_true",
        help="keep boxes whose centre is inside a mask (default: dropped)",
    )
    prv.add_argument(
        "--blur",
        metavar="CLASSES",
        help="blur the boxes of these classes (e.g. person) in everything shown or stored",
    )

"""Who may watch: the bind-address rule and the token check.

A kiosk's camera is private. The server binds 127.0.0.1 unless told otherwise, and any other
address needs a token that every request must carry (stream and event stream included).

What a secret is and how it is hidden in what livedet writes: livedet.secrets.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path
from urllib.parse import parse_qs

from livedet.errors import UsageError

_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost": only this machine can connect."""
    if host.strip("[]").lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public address


def check_serving(
    host: str,
    token: str | None,
    *,
    max_viewers: int,
    outage_limit_s: float,
    stall_limit_s: float,
) -> None:
    """Every --serve setting checked before a model loads (UsageError, one line)."""
    check_bind(host, token)
    if max_viewers < 1:
        raise UsageError(f"--serve-max-viewers {max_viewers}: must be 1 or more")
    for flag, seconds in (
        ("--health-outage-limit", outage_limit_s),
        ("--health-stall-limit", stall_limit_s),
    ):
        if seconds <= 0:
            raise UsageError(f"{flag} {seconds}: must be more than 0 seconds")


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve a camera beyond this machine without a token (UsageError)."""
    if not is_loopback(host) and not token:
        shown = host or "all addresses"
        raise UsageError(
            f"--serve on {shown} would show the camera to the network without a password; "
            "pass --serve-token (or --serve-token-file), or bind 127.0.0.1"
        )


def parse_bind_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """'8080', 'HOST:8080' or '[::1]:8080' -> (host, port); UsageError naming the bad part."""
    host, separator, port_text = text.strip().rpartition(":")
    if not separator:
        host = default_host
    host = host.strip("[]")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(
            f"--serve {text!r}: the port must be a number 0-65535, as in 8080 or 0.0.0.0:8080"
        )
    return host, int(port_text)


def read_token_file(path: Path) -> str:
    """The token from a file (first line, stripped), so it stays out of `ps` and shell history."""
    try:
        token = path.read_text(encoding="utf-8").strip().splitlines()
    except OSError as e:
        raise UsageError(f"--serve-token-file {path}: {e.strerror}; give a readable file") from e
    if not token or not token[0].strip():
        raise UsageError(f"--serve-token-file {path} is empty; write the token on its first line")
    return token[0].strip()


def request_token(authorization: str | None, query: str) -> str | None:
    """The token a request carries: `Authorization: Bearer <t>` or `?token=<t>` (browsers cannot
    set headers on <img> or EventSource, so the page passes it in the query)."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    values = parse_qs(query).get("token")
    return values[0] if values else None


def token_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was
    right. No expected token: everyone may watch (loopback only, see `check_bind`)."""
    if not expected:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())

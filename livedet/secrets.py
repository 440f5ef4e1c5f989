"""What a secret is, and hiding secrets in everything livedet writes.

Secrets (the web token, however given; the MQTT password; a stream URL's password) are replaced
by *** in log lines, --stats, the web view's answers and MQTT messages. `redact` / `redact_json`
are the one place that does it; `Config.secrets` the one that knows which settings are secret. Core,
not part of the web extra: stats and logs use it whatever is installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']*|(Bearer\s+)\S+", re.IGNORECASE)
# scheme://user:PASSWORD@host. The password runs to the last @ before the path, as urlsplit
# reads it (a raw @ in a password included); "host:port/" has no @ there and stays as it is.
_PASSWORD_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/?#:]*:)[^\s/?#]*@", re.IGNORECASE)
HIDDEN = "***"
_remembered: frozenset[str] = frozenset()  # secret values met so far in this process


def remember_secrets(*values: str | None) -> None:
    """From now on `redact` hides these values wherever they appear, in this process. The web
    server and the MQTT publisher register theirs: log lines come from every module, and only
    those two know the token (a --serve-token-file's contents) and the password."""
    global _remembered
    _remembered = _remembered | {value for value in values if value}


def redact_url(url: str) -> str:
    """rtsp://admin:***@cam/live: the user name and host stay, so the user sees which one."""
    return _PASSWORD_IN_URL.sub(rf"\1{HIDDEN}@", url)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret replaced by ***: the given and remembered values, URL passwords,
    `token=` values and Bearer tokens."""
    for value in sorted(_remembered.union(secrets), key=len, reverse=True):  # longest first
        text = text.replace(value, HIDDEN)
    text = redact_url(text)
    return _TOKEN_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + HIDDEN, text)


def redact_json(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON-ready document with `redact` applied to every string in it, keys included (a
    source named after its URL is a key in stats)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {
            redact(k, secrets) if isinstance(k, str) else k: redact_json(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_json(v, secrets) for v in value]
    return value

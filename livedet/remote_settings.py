"""Checks of the flags for watching a run from elsewhere (--serve and its token, --mqtt), made
before a model loads; the web server and the MQTT client are imported only to check their own
settings."""

from __future__ import annotations

from typing import Any

from livedet.errors import UsageError


def check_remote_settings(config: Any) -> None:
    """--serve, its token and limits, and --mqtt (UsageError, one line)."""
    if config.serve is not None:
        from livedet.web.security import check_serving

        host, _ = config.serve_address()
        check_serving(
            host,
            config.serve_token_value(),
            max_viewers=config.serve_max_viewers,
            outage_limit_s=config.health_outage_limit,
            stall_limit_s=config.health_stall_limit,
        )
    elif config.serve_token or config.serve_token_file:
        raise UsageError("--serve-token needs --serve [HOST:]PORT")
    if config.mqtt is not None:
        from livedet.mqtt import parse_mqtt_url

        parse_mqtt_url(config.mqtt)

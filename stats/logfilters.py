"""Logging filters. channels_redis logs a full traceback each time its pub/sub reader fails to
reach Redis (about once a second for as long as Redis is down); this turns each outage into one
line, since stats.live.publish already says what the outage means for viewers."""

import logging
import time

import redis

QUIET_SECONDS = 10.0
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisOutageFilter(logging.Filter):
    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.last_seen = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not record.name.startswith("channels_redis") or not isinstance(exc, CONNECTION_ERRORS):
            return True
        now, first = time.monotonic(), time.monotonic() - self.last_seen > QUIET_SECONDS
        self.last_seen = now
        if first:
            # One line for the outage, no traceback; repeats are dropped until it has been
            # quiet for QUIET_SECONDS (the reader retries about once a second meanwhile).
            record.msg, record.args = (
                "Redis unreachable for the channel layer (%s: %s); retrying",
                (
                    type(exc).__name__,
                    exc,
                ),
            )
            record.exc_info = record.exc_text = None
        return first

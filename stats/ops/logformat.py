"""LOG_FORMAT=json: one JSON object per log line, for log shippers (webgame/settings.py's
LOGGING picks it). Fields: timestamp (UTC, ISO 8601 with milliseconds), level, logger,
message (its arguments applied), pid, and exception (the traceback's text) when there is one;
stack when the record carries one. A multi-line message or traceback stays on one line:
JSON escapes the newlines."""

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            # Cached on the record, as logging.Formatter does, for the other handlers.
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a message's arguments are applied above, but a filter may have put
        # anything on the record; a log line must never fail to be written.
        return json.dumps(entry, ensure_ascii=False, default=str)

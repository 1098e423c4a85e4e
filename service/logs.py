"""Logs as JSON lines: time, level, logger, message and the request's fields; never secrets."""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from service.config import Settings


def configure_logging(settings: Settings) -> None:
    """JSON lines on stderr for the service's own loggers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("service")
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    root.propagate = False


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and the structured fields given."""

    FIELDS = ("request_id", "method", "route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

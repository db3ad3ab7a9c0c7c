"""LOG_FORMAT=json (issue #14): one JSON object per log line (timestamp, level, logger, message,
pid, and the exception's text when there is one), wired through LOGGING; the default stays
the plain text format."""

import json
import logging
import os
import subprocess
import sys
from datetime import datetime

from stats.ops.logformat import JsonFormatter
from stats.tests.support import ROOT

# Logs a warning with arguments, an exception with its traceback, and a two-line message,
# through the LOGGING that webgame.settings configures.
SCRIPT = """
import logging
import django

django.setup()
log = logging.getLogger("webgame.probe")
log.warning("hello %s", "there")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it failed")
log.error("two\\nlines")
"""


def record(message: str, *args, exc_info=None, name: str = "webgame.test", level=logging.WARNING):
    return logging.LogRecord(name, level, __file__, 1, message, args, exc_info)


def test_a_record_is_one_json_object_with_its_fields():
    line = JsonFormatter().format(record("player %s scored %d", "ada", 10))
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"timestamp", "level", "logger", "message", "pid"}
    assert entry["level"] == "WARNING" and entry["logger"] == "webgame.test"
    assert entry["message"] == "player ada scored 10"
    assert entry["pid"] == os.getpid()
    stamp = datetime.fromisoformat(entry["timestamp"])
    assert stamp.utcoffset().total_seconds() == 0 and entry["timestamp"].endswith("+00:00")


def test_an_exception_comes_with_its_traceback_text_and_stays_on_one_line():
    try:
        raise ValueError("bad value\nover two lines")
    except ValueError:
        line = JsonFormatter().format(record("it failed", exc_info=sys.exc_info(), level=logging.ERROR))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "it failed"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: bad value\nover two lines")


def test_anything_in_a_message_is_written():
    line = JsonFormatter().format(record("%s and %r", object(), "naïve ☃"))
    assert json.loads(line)["message"].endswith("and 'naïve ☃'")
    assert "naïve ☃" in line  # not \\u-escaped: readable as it is


def run_logging(**env) -> list[str]:
    """The lines SCRIPT writes (to stderr) with this environment."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "webgame.test_settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return [line for line in run.stderr.splitlines() if line.strip()]


def test_log_format_json_writes_every_line_as_json():
    lines = run_logging(LOG_FORMAT="json")
    entries = [json.loads(line) for line in lines]  # every line parses
    mine = [e for e in entries if e["logger"] == "webgame.probe"]
    assert [(e["level"], e["message"]) for e in mine] == [
        ("WARNING", "hello there"),
        ("ERROR", "it failed"),
        ("ERROR", "two\nlines"),
    ]
    assert "ZeroDivisionError: division by zero" in mine[1]["exception"]
    assert "exception" not in mine[0]
    assert len({e["pid"] for e in mine}) == 1


def test_the_default_stays_plain_text():
    lines = run_logging(LOG_FORMAT="")
    assert any(line.endswith("WARNING webgame.probe: hello there") for line in lines), lines
    assert "Traceback (most recent call last):" in lines
    assert not any(line.startswith("{") for line in lines)

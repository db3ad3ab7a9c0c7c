"""The routine tasks' lines at DEBUG, so that `make run` (worker and beat at --loglevel INFO)
shows what matters: the demo plays a burst every half second, and each burst was three INFO
lines (beat's "Sending due task", the worker's "Task ... received" and "... succeeded"), about
4 lines a second, 5,305 of 6,294 lines in 17 minutes (issue #18).

Only those lines (and an expired run's "Discarding"), and only for ROUTINE_TASKS: a retry, a
failure, a warning of the task itself and every other task's lines keep their level. With
--loglevel DEBUG they show, as DEBUG. Celery has no per-task log level (its lines come from
celery.app.trace, celery.worker.strategy, celery.worker.request and celery.beat for every task
alike), hence a filter on the handlers Celery sets up (worker.app connects it to
after_setup_logger, for the worker, its pool's children and beat).

And while the broker is unreachable, beat says so once (BeatOutageFilter), not with a
traceback for each of the demo's sends."""

import logging
import time

import redis
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
from kombu.exceptions import OperationalError

ROUTINE_TASKS = frozenset({"stats.tasks.demo_simulate", "stats.tasks.rollups_compute", "stats.tasks.game_rollup"})
BEAT_SENDING = "Scheduler: Sending due task %s (%s)"  # celery.beat's line, args (entry name, task)
# celery.worker.request's line for a task past its `expires` (args: name, id): the demo's runs
# expire by design while the web process is down, two a second; the simulator warns already.
DISCARDED = "Discarding revoked task: %s[%s]"


def routine_line(record: logging.LogRecord) -> bool:
    """Whether the record is a received, succeeded, sending or discarded line of a routine task."""
    if record.msg in (LOG_RECEIVED, LOG_SUCCESS) and isinstance(record.args, dict):
        return record.args.get("name") in ROUTINE_TASKS  # a single dict argument becomes args
    if record.msg == BEAT_SENDING and isinstance(record.args, tuple) and len(record.args) == 2:
        return record.args[1] in ROUTINE_TASKS
    if record.msg == DISCARDED and isinstance(record.args, tuple) and len(record.args) == 2:
        return record.args[0] in ROUTINE_TASKS
    return False


class RoutineTaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not routine_line(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


BEAT_SEND_FAILED = "Message Error: %s\n%s"  # celery.beat: (exception, the stack), with its traceback
BROKER_ERRORS = (OperationalError, redis.ConnectionError, redis.TimeoutError, OSError)
OUTAGE_QUIET_SECONDS = 10.0


def _broker_caused(exc: BaseException | None) -> bool:
    """Whether the exception, or one it was raised from, is the broker being unreachable."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, BROKER_ERRORS):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class BeatOutageFilter(logging.Filter):
    """beat logs a traceback and a dump of its stack for every send that finds no broker: the
    demo's twice a second, for as long as Redis is down. Each outage gets one line instead
    (still an error, without the traceback); repeats are dropped until sends have failed for
    none of OUTAGE_QUIET_SECONDS. Any other failure to send keeps its traceback."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.last_seen = -OUTAGE_QUIET_SECONDS

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "celery.beat" or record.msg != BEAT_SEND_FAILED or not record.exc_info:
            return True
        if not _broker_caused(record.exc_info[1]):
            return True
        now = time.monotonic()
        first, self.last_seen = now - self.last_seen > OUTAGE_QUIET_SECONDS, now
        if first:
            record.msg = "broker unreachable, scheduled tasks not sent until it is back (%s)"
            record.args = (record.args[0],) if isinstance(record.args, tuple) and record.args else ()
            record.exc_info = record.exc_text = None
        return first


def handlers_quiet(logger: logging.Logger) -> None:
    """Add the filters to each of the logger's handlers (once: a pool child sets up again)."""
    for handler in logger.handlers:
        for kind in (RoutineTaskFilter, BeatOutageFilter):
            if not any(isinstance(f, kind) for f in handler.filters):
                handler.addFilter(kind())

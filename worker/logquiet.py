"""The routine tasks' lines at DEBUG, so that `make run` (worker and beat at --loglevel INFO)
shows what matters: the demo plays a burst every half second, and each burst was three INFO
lines (beat's "Sending due task", the worker's "Task ... received" and "... succeeded"), about
4 lines a second, 5,305 of 6,294 lines in 17 minutes (issue #18).

Only those lines (and an expired run's "Discarding"), and only for ROUTINE_TASKS: a retry, a
failure, a warning of the task itself and every other task's lines keep their level. With
--loglevel DEBUG they show, as DEBUG. Celery has no per-task log level (its lines come from
celery.app.trace, celery.worker.strategy, celery.worker.request and celery.beat for every task
alike), hence a filter on the handlers Celery sets up (worker.app connects it to
after_setup_logger, for the worker, its pool's children and beat)."""

import logging

from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

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


def handlers_quiet(logger: logging.Logger) -> None:
    """Add the filter to each of the logger's handlers (once: a pool child sets up again)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RoutineTaskFilter) for f in handler.filters):
            handler.addFilter(RoutineTaskFilter())

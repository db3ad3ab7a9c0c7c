"""The Celery application: broker and task defaults come from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import after_setup_logger

from worker.logquiet import handlers_quiet
from worker.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webgame.settings")

app = Celery("webgame")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks(["stats"])


@after_setup_logger.connect
def _routine_tasks_quiet(logger, **_kwargs) -> None:
    handlers_quiet(logger)  # the demo's per-burst lines at DEBUG (worker.logquiet)

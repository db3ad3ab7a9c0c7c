"""The Celery application: broker and task defaults come from Django settings (CELERY_*)."""

import os

from celery import Celery

from worker.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webgame.settings")

app = Celery("webgame")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks(["stats"])

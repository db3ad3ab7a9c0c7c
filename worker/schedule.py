"""Celery beat schedule: what runs periodically, and how often."""

BEAT_SCHEDULE = {
    # Plays fake matches in the demo games so a new user sees motion at once.
    "demo-simulate": {"task": "stats.tasks.demo_simulate", "schedule": 0.5},
    # Per-minute rollups, so history ranges never scan raw events.
    "rollups-compute": {"task": "stats.tasks.rollups_compute", "schedule": 10.0},
}

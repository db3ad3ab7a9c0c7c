"""Celery beat schedule: what runs periodically, and how often."""

BEAT_SCHEDULE = {
    # Plays fake matches in the demo games so a new user sees motion at once. A run waits for
    # its events' acks from the web process (stats.simulator.demo_play): while that is down,
    # runs queue up; the ones older than a few seconds are dropped rather than played all at
    # once when it is back.
    "demo-simulate": {"task": "stats.tasks.demo_simulate", "schedule": 0.5, "options": {"expires": 5.0}},
    # Per-minute rollups, so history ranges never scan raw events.
    "rollups-compute": {"task": "stats.tasks.rollups_compute", "schedule": 10.0},
}

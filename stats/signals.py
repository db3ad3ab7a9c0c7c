"""Signals the stats app sends. Receivers are connected in StatsConfig.ready()."""

from django.dispatch import Signal

# Sent by services.score_events_record inside the writing transaction, with
# game=<Game>, events=[<eventlog.LogRow>, ...] (in seq order), players=[<Player>, ...] and
# scored=<stats.scoring.record.Scored> (the stat totals the events changed).
score_events_recorded = Signal()

# Sent by services.game_create inside its transaction, with game=<Game> (saved): the lobby
# shows the new game live (stats.receivers).
game_created = Signal()

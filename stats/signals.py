"""Signals the stats app sends. Receivers are connected in StatsConfig.ready().

Every push to the live path starts here: a service sends one of these (inside its
transaction, for a database write), and its one receiver in stats.receivers hands the
frames to stats.live.publish.publish_on_commit, the only way to publish."""

from django.dispatch import Signal

# Sent by services.score_events_record inside the writing transaction, with
# game=<Game>, events=[<eventlog.LogRow>, ...] (in seq order), players=[<Player>, ...] and
# scored=<stats.scoring.record.Scored> (the stat totals the events changed).
score_events_recorded = Signal()

# Sent by services.game_create inside its transaction, with game=<Game> (saved): the lobby
# shows the new game live (stats.receivers).
game_created = Signal()

# Sent by stats.chat.services.chat_message_post inside its transaction, with game=<Game>
# and message=<ChatMessage> (stored).
chat_message_posted = Signal()

# Sent by stats.chat.services.chat_message_delete inside its transaction, once per message
# (the delete that won), with game=<Game> and message_id=<int>.
chat_message_deleted = Signal()

# Sent by stats.scoring.services.match_start / match_end inside the transaction that holds
# the game's row lock, with game=<Game> and match=<Match> (as written).
match_started = Signal()
match_ended = Signal()

# Sent (asend) by stats.live.presence.viewers_announce, from a socket's connect or
# disconnect: no transaction, the count is Redis's. With game_id=<int> and viewers=<int>.
viewers_counted = Signal()

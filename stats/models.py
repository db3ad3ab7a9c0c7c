"""The event log (the source of truth) and the totals kept beside it."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

SLUG_VALIDATOR = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,49}$", "Lowercase letters, digits, - and _.")


class Game(models.Model):
    slug = models.CharField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    name = models.CharField(max_length=100)
    is_public = models.BooleanField(default=True)
    # Users (besides staff) allowed to watch a private game.
    viewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # The highest seq handed out: the per-game sequence counter, bumped under a row lock.
    last_seq = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)
    points_total = models.BigIntegerField(default=0)
    # The live match that events naming none fall into (the one started last), kept on the
    # row the write path locks anyway, so a batch finds it without a query.
    open_match = models.ForeignKey("stats.Match", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class Player(models.Model):
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="players")
    name = models.CharField(max_length=64)
    # Kept up to date by services.score_events_record so the leaderboard never scans events.
    total = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["game", "name"], name="player_unique_name")]
        indexes = [models.Index(fields=["game", "-total"], name="player_leaderboard")]

    def __str__(self) -> str:
        return self.name


class ScoreEvent(models.Model):
    """One entry of a game's append-only log. Corrections are new entries, never edits."""

    # No index of its own on game: the unique constraints below lead with it. Every index
    # is paid on each insert of the hottest table (see the corrects index too).
    # No foreign-key constraints in the database either (db_constraint=False, all four): on
    # PostgreSQL each is a deferred trigger per inserted row, checked at commit, which cost
    # ~12 ms of every 1,000-event batch (docs/benchmarks.md, issue #13). The one writer
    # (services.fresh_write) takes the game's row lock and makes the players, and resolves the
    # match, in the same transaction; Django still cascades deletes (on_delete runs in Python),
    # and test_services checks that no event points at a missing row.
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False)
    event_id = models.CharField("id", max_length=64)
    seq = models.BigIntegerField()
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="events", db_constraint=False)
    points = models.BigIntegerField()
    kind = models.CharField(max_length=32, default="score")
    at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="corrections",
        db_index=False,
        db_constraint=False,
    )
    # Game stats (stats.scoring): the event's values of the game's declared stats, its team and
    # its match. Empty for a points-only event, which is the cheap, common case.
    stats = models.JSONField(null=True, blank=True)
    team = models.CharField(max_length=32, blank=True, default="")
    match = models.ForeignKey(
        "stats.Match",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["game", "event_id"], name="event_unique_id"),
            models.UniqueConstraint(fields=["game", "seq"], name="event_unique_seq"),
        ]
        indexes = [
            models.Index(fields=["game", "received_at"], name="event_received"),
            # Corrections are rare: a partial index keeps the other rows out of it.
            models.Index(fields=["corrects"], name="event_corrects", condition=models.Q(corrects__isnull=False)),
        ]
        ordering = ["game", "seq"]

    def __str__(self) -> str:
        return f"{self.game.slug}#{self.seq} {self.event_id}"


class ApiKey(models.Model):
    """A game server's key. Only a SHA-256 of the secret is stored; the key is shown once."""

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.game.slug}: {self.prefix}… {self.name}".strip()


class Rollup(models.Model):
    """Per-minute totals for one game, computed by Celery beat from the event log."""

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="rollups")
    minute = models.DateTimeField()
    events = models.IntegerField(default=0)
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["game", "minute"], name="rollup_unique")]
        ordering = ["game", "minute"]

    def __str__(self) -> str:
        return f"{self.game_id}@{self.minute:%Y-%m-%d %H:%M}: {self.events} events"


class RollupCursor(models.Model):
    """How far (by seq) the rollups of a game have read the log, so each run reads only new events."""

    game = models.OneToOneField(Game, on_delete=models.CASCADE, related_name="rollup_cursor")
    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.game_id} rolled up to seq {self.seq}"


from stats.chat.models import ChatMessage, ChatMute  # noqa: E402,F401
from stats.scoring.models import Match, MatchPlayer, Stat, StatTotal  # noqa: E402,F401

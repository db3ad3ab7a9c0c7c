"""Declared stats, matches, each player's team in a match, and the kept per-stat totals."""

from django.core.validators import RegexValidator
from django.db import models

STAT_NAME_VALIDATOR = RegexValidator(r"^[a-z][a-z0-9_]{0,31}$", "A lowercase letter, then letters, digits and _.")


class Stat(models.Model):
    """A named per-player statistic of one game. `points` is built in and never declared."""

    class Format(models.TextChoices):
        INTEGER = "integer"
        DURATION_MS = "duration_ms"
        PERCENT = "percent"
        # A value with decimals (K/D): derived stats and any stat whose values are ratios.
        RATIO = "ratio"

    class Order(models.TextChoices):
        DESC = "desc", "higher is better"
        ASC = "asc", "lower is better"

    class Op(models.TextChoices):
        INCR = "incr", "sum of the values"
        BEST = "best", "the best value by the order"
        SET = "set", "the last value"

    game = models.ForeignKey("stats.Game", on_delete=models.CASCADE, related_name="stats")
    name = models.CharField(max_length=32, validators=[STAT_NAME_VALIDATOR])
    label = models.CharField(max_length=64)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.INTEGER)
    order = models.CharField(max_length=4, choices=Order.choices, default=Order.DESC)
    op = models.CharField(max_length=4, choices=Op.choices, default=Op.INCR)
    # A derived stat is the ratio of two others, computed when read and never stored.
    numerator = models.CharField(max_length=32, blank=True, validators=[STAT_NAME_VALIDATOR])
    denominator = models.CharField(max_length=32, blank=True, validators=[STAT_NAME_VALIDATOR])
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["game", "name"], name="stat_unique_name"),
            # Declarations take the game's row lock (stat_declare): positions 0, 1, 2... never repeat.
            models.UniqueConstraint(fields=["game", "position"], name="stat_unique_position"),
        ]
        ordering = ["game", "position", "name"]

    def __str__(self) -> str:
        return f"{self.game_id}:{self.name}"

    @property
    def derived(self) -> bool:
        return bool(self.numerator)


class Match(models.Model):
    """A match of a game: live from its start until it is ended. Events name it, or fall into
    the game's open match (the live one started last)."""

    class Status(models.TextChoices):
        LIVE = "live"
        FINISHED = "finished"

    game = models.ForeignKey("stats.Game", on_delete=models.CASCADE, related_name="matches")
    # The game server's id for it (so a retried start is recognised), or one made here.
    match_id = models.CharField("id", max_length=64)
    name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.LIVE)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The log's seq range while it was live: a replay reads only that range.
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["game", "match_id"], name="match_unique_id")]
        indexes = [models.Index(fields=["game", "status", "-started_at"], name="match_open")]
        ordering = ["game", "-started_at", "-pk"]
        verbose_name_plural = "matches"

    def __str__(self) -> str:
        return self.name or self.match_id


class MatchPlayer(models.Model):
    """The team a player plays in during a match (the last team their events named)."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="roster")
    player = models.ForeignKey("stats.Player", on_delete=models.CASCADE, related_name="+")
    team = models.CharField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["match", "player"], name="match_player_unique")]

    def __str__(self) -> str:
        return f"{self.match_id}: {self.player_id} in {self.team}"


class StatTotal(models.Model):
    """One kept total: a stat's value for a player or a team over a period ("all", a day
    "d2026-11-30", an ISO week "w2026-49", a match "m<pk>"). Written only by the write
    service, in the transaction that appends the events. All-time points are the Player
    row's `total`, so they are not kept here twice."""

    PLAYER, TEAM = "p", "t"

    game = models.ForeignKey("stats.Game", on_delete=models.CASCADE, related_name="+", db_index=False)
    period = models.CharField(max_length=16)
    kind = models.CharField(max_length=1, choices=[(PLAYER, "player"), (TEAM, "team")])
    owner = models.CharField(max_length=64)
    stat = models.CharField(max_length=32)
    value = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["game", "period", "kind", "stat", "owner"], name="stat_total_unique")
        ]
        indexes = [models.Index(fields=["game", "period", "kind", "stat", "value"], name="stat_total_rank")]

    def __str__(self) -> str:
        return f"{self.period} {self.kind}:{self.owner} {self.stat}={self.value}"

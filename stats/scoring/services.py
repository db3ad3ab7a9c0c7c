"""Writes of stats and matches: declaring a stat, starting and ending a match. A match start
or end takes the game's row lock, like every write of events, so no event can slip into a
match after its end."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from stats import eventlog
from stats.models import Game
from stats.scoring.models import Match, Stat
from stats.signals import match_ended, match_started

STAT_FIELDS = ("label", "format", "order", "op", "numerator", "denominator")


class ScoringConflict(Exception):
    """Something with this name or id exists already with another definition."""


class StatLimitReached(ScoringConflict):
    """The game has declared GAME_MAX_STATS stats: each one is in every snapshot and frame.
    A ScoringConflict, so the admin and the command say so as they do for a conflict."""


def stat_declare(
    *,
    game: Game,
    name: str,
    label: str = "",
    format: str = Stat.Format.INTEGER,
    order: str = Stat.Order.DESC,
    op: str = Stat.Op.INCR,
    numerator: str = "",
    denominator: str = "",
) -> tuple[Stat, bool]:
    """Declare a stat (or a ratio of two, when `numerator` and `denominator` are given).
    Declaring the same again is a no-op, so a game server may declare at every start; a
    different definition of a name that exists raises ScoringConflict, and an invalid one
    django.core.exceptions.ValidationError."""
    if bool(numerator) != bool(denominator):  # before either is dropped: never half a ratio
        raise ValidationError({"denominator": "a derived stat needs both a numerator and a denominator"})
    stat = Stat(game=game, name=name, label=label or name.replace("_", " ").capitalize(), format=format, order=order)
    stat.op, stat.numerator, stat.denominator = (Stat.Op.INCR, numerator, denominator) if numerator else (op, "", "")
    stat.full_clean(exclude=["game"], validate_unique=False)
    stat_parts_check(game=game, stat=stat)
    with transaction.atomic():
        # The game's row lock, as every write of the game takes: concurrent declarations of
        # one name, or of new names, wait their turn, so none fails on the unique name and
        # each new stat gets the next position (a lock on the Stat row alone locked nothing
        # while the row did not exist: PostgreSQL gave an IntegrityError and equal positions).
        eventlog.game_lock(game_id=game.pk)
        existing = Stat.objects.filter(game=game, name=name).first()
        if existing is not None:
            differ = [f"{f} {getattr(existing, f)!r}" for f in STAT_FIELDS if getattr(existing, f) != getattr(stat, f)]
            if differ:
                raise ScoringConflict(
                    f"stat {name!r} exists with another definition ({', '.join(differ)}); change it with "
                    f"manage.py game_stats --change {name} or in the admin (label, format, order, op), rename it "
                    f"(--rename), or remove it while no event carries it (--remove)"
                )
            return existing, False
        stat.position = Stat.objects.filter(game=game).count()
        if stat.position >= settings.GAME_MAX_STATS:
            raise StatLimitReached(f"a game declares at most {settings.GAME_MAX_STATS} stats (GAME_MAX_STATS)")
        stat.save()
    return stat, True


def stat_parts_check(*, game: Game, stat: Stat) -> None:
    if stat.name == "points":
        raise ValidationError({"name": "points is built in"})
    if bool(stat.numerator) != bool(stat.denominator):
        raise ValidationError({"denominator": "a derived stat needs both a numerator and a denominator"})
    if not stat.numerator:
        return
    plain = {"points", *Stat.objects.filter(game=game, numerator="").values_list("name", flat=True)}
    for part in ("numerator", "denominator"):
        if getattr(stat, part) not in plain:
            raise ValidationError({part: f"must be a declared stat that is not derived ({', '.join(sorted(plain))})"})


def match_start(*, game_id: int, match_id: str | None = None, name: str = "") -> tuple[Match, bool]:
    """Start a live match; it becomes the game's open match. A retry (same id, same name)
    returns the match as it is; the same id with another name raises ScoringConflict."""
    with transaction.atomic():
        game = eventlog.game_lock(game_id=game_id)
        if match_id is not None:
            existing = Match.objects.filter(game_id=game_id, match_id=match_id).first()
            if existing is not None:
                if existing.name != name:
                    raise ScoringConflict(f"match {match_id!r} exists with another name")
                return existing, False
        match = Match.objects.create(
            game_id=game_id,
            match_id=match_id or f"m-{secrets.token_hex(6)}",
            name=name,
            started_at=timezone.now(),
            first_seq=game.last_seq + 1,
        )
        Game.objects.filter(pk=game_id).update(open_match=match)
        match_started.send(sender=Match, game=game, match=match)
    return match, True


def match_end(*, game_id: int, match_id: str) -> Match:
    """End a match (a no-op for an ended one). Raises Match.DoesNotExist."""
    with transaction.atomic():
        game = eventlog.game_lock(game_id=game_id)
        match = Match.objects.select_for_update().get(game_id=game_id, match_id=match_id)
        if match.status == Match.Status.FINISHED:
            return match
        match.status, match.ended_at, match.last_seq = Match.Status.FINISHED, timezone.now(), game.last_seq
        match.save(update_fields=["status", "ended_at", "last_seq"])
        if game.open_match_id == match.pk:
            still_live = Match.objects.filter(game_id=game_id, status=Match.Status.LIVE).order_by("-started_at")
            Game.objects.filter(pk=game_id).update(open_match=still_live.first())
        match_ended.send(sender=Match, game=game, match=match)
    return match

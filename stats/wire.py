"""The JSON shapes sent to clients (WebSocket frames and API bodies). One place, so the
snapshot, the replay and the live stream can never disagree on what an event looks like."""

from datetime import datetime

from stats.models import Game, Player, ScoreEvent


def ts_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class TimesMemo(dict):
    """A batch's times, each converted once: its events share one received_at and mostly one
    `at` (the ones that gave none). Per-event conversions were a fifth of a publish."""

    def __missing__(self, value: datetime) -> tuple[str, int]:
        converted = self[value] = (value.isoformat(), ts_ms(value))
        return converted


def event_wire(
    event: ScoreEvent, player_name: str | None = None, match_id: str | None = None, times: TimesMemo | None = None
) -> dict:
    """`match_id`: the match's public id when `event` is a LogRow (which has only its pk)."""
    times = TimesMemo() if times is None else times
    at, at_ms = times[event.at]
    wire = {
        "id": event.event_id,
        "seq": event.seq,
        "player": player_name if player_name is not None else event.player.name,
        "points": event.points,
        "kind": event.kind,
        "at": at,
        "at_ms": at_ms,
        "received_ms": times[event.received_at][1],
    }
    # Game stats only where the event has them: a points-only event's frame stays as it was.
    if event.stats:
        wire["stats"] = event.stats
    if event.team:
        wire["team"] = event.team
    if event.match_id is not None:
        wire["match"] = match_id if match_id is not None else event.match.match_id
    return wire


def player_wire(player: Player, stats: dict[str, int] | None = None, team: str = "") -> dict:
    """`stats`: all-time values of the game's declared stats (those known to the caller)."""
    wire = {"player": player.name, "total": player.total, "events": player.event_count}
    if stats:
        wire["stats"] = stats
    if team:
        wire["team"] = team
    return wire


def game_wire(game: Game) -> dict:
    return {
        "slug": game.slug,
        "name": game.name,
        "is_public": game.is_public,
        "last_seq": game.last_seq,
        "events": game.event_count,
        "points": game.points_total,
    }

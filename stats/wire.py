"""The JSON shapes sent to clients (WebSocket frames and API bodies). One place, so the
snapshot, the replay and the live stream can never disagree on what an event looks like."""

from datetime import datetime

from stats.models import Game, Player, ScoreEvent


def ts_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def event_wire(event: ScoreEvent, player_name: str | None = None, match_id: str | None = None) -> dict:
    """`match_id`: the match's public id when `event` is a LogRow (which has only its pk)."""
    wire = {
        "id": event.event_id,
        "seq": event.seq,
        "player": player_name if player_name is not None else event.player.name,
        "points": event.points,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "at_ms": ts_ms(event.at),
        "received_ms": ts_ms(event.received_at),
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

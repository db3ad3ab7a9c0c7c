"""The JSON shapes sent to clients (WebSocket frames and API bodies). One place, so the
snapshot, the replay and the live stream can never disagree on what an event looks like."""

from datetime import datetime

from stats.models import Game, Player, ScoreEvent


def ts_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def event_wire(event: ScoreEvent, player_name: str | None = None) -> dict:
    return {
        "id": event.event_id,
        "seq": event.seq,
        "player": player_name if player_name is not None else event.player.name,
        "points": event.points,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "at_ms": ts_ms(event.at),
        "received_ms": ts_ms(event.received_at),
    }


def player_wire(player: Player) -> dict:
    return {"player": player.name, "total": player.total, "events": player.event_count}


def game_wire(game: Game) -> dict:
    return {
        "slug": game.slug,
        "name": game.name,
        "is_public": game.is_public,
        "last_seq": game.last_seq,
        "events": game.event_count,
        "points": game.points_total,
    }

"""The JSON shapes of stats and matches (frames and API bodies)."""

from stats.scoring.models import Match, Stat
from stats.wire import ts_ms

POINTS = {"name": "points", "label": "Points", "format": "integer", "order": "desc", "op": "incr"}


def stat_wire(stat: Stat) -> dict:
    wire = {"name": stat.name, "label": stat.label, "format": stat.format, "order": stat.order}
    if stat.derived:
        return {**wire, "op": None, "numerator": stat.numerator, "denominator": stat.denominator}
    return {**wire, "op": stat.op}


def match_wire(match: Match, teams: list[dict]) -> dict:
    return {
        "id": match.match_id,
        "name": match.name,
        "status": match.status,
        "started_ms": ts_ms(match.started_at),
        "ended_ms": ts_ms(match.ended_at) if match.ended_at else None,
        "first_seq": match.first_seq,
        "last_seq": match.last_seq,
        "teams": teams,
    }


def ratio(numerator: int, denominator: int) -> float:
    """A derived stat's value: a zero divisor counts as one (K/D with no deaths is the kills),
    so a player is never ranked by a division by zero."""
    return round(numerator / max(denominator, 1), 4)

"""Events as the server takes them, checked before they are buffered, and frames of them.

A frame is all or nothing on the server: one bad event refuses the whole batch it travels in.
So the rules the server applies (README, "POST /api/games/<slug>/events") are checked here,
in send(), where a mistake raises at the line that made it instead of costing the batch.
"""

import itertools
import json
import re
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

MAX_VALUE = 10**9
NAME_MAX = 64
TEAM_MAX = 32
MAX_STATS = 32
# The server refuses socket frames over 65,536 characters (`too_large`) and HTTP bodies over
# 1 MiB: a frame is kept under the smaller, counted in bytes (never fewer than characters).
MAX_FRAME_BYTES = 65_536
ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
STAT_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Control, format (zero-width, bidi), surrogate, private-use, unassigned, line separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _int_check(name: str, value: object) -> int:
    # bool is an int to Python and not to the server.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not -MAX_VALUE <= value <= MAX_VALUE:
        raise ValueError(f"{name} must be within ±{MAX_VALUE}")
    return value


def _name_check(name: str, value: object, max_len: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value.strip() or len(value) > max_len:
        raise ValueError(f"{name} must be 1 to {max_len} characters, not blank")
    if not (value.isascii() and value.isprintable()):
        if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
            raise ValueError(f"{name} must not contain control or invisible characters")
    return value


def _at_text(at: datetime | str) -> str:
    if isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must carry a time zone (a naive time would be guessed at)")
        return at.isoformat()
    if isinstance(at, str):
        return at  # the server checks the text: it is the one that parses it
    raise TypeError(f"at must be a datetime or an ISO 8601 str, not {type(at).__name__}")


def _stats_check(stats: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(stats, Mapping):
        raise TypeError("stats must be a mapping of stat name to int")
    if len(stats) > MAX_STATS:
        raise ValueError(f"at most {MAX_STATS} stats per event")
    for name, value in stats.items():
        if not isinstance(name, str) or not STAT_PATTERN.fullmatch(name) or name == "points":
            raise ValueError(f"stat name {name!r}: [a-z][a-z0-9_]*, up to 32 characters, not 'points'")
        _int_check(f"stats[{name!r}]", value)
    return dict(stats)


def event_make(
    player: str,
    points: int = 0,
    *,
    stats: Mapping[str, int] | None = None,
    team: str | None = None,
    match: str | None = None,
    kind: str | None = None,
    at: datetime | str | None = None,
    id: str | None = None,
) -> dict:
    """One event as JSON-ready data, with an id (made here when none is given: it is what makes
    a retry a duplicate on the server instead of a second count)."""
    event: dict = {"id": uuid.uuid4().hex if id is None else id, "player": _name_check("player", player, NAME_MAX)}
    if not isinstance(event["id"], str) or not ID_PATTERN.fullmatch(event["id"]):
        raise ValueError("id must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
    event["points"] = _int_check("points", points)
    if stats:
        event["stats"] = _stats_check(stats)
    if team is not None:
        event["team"] = _name_check("team", team, TEAM_MAX)
    if match is not None:
        event["match"] = _name_check("match", match, NAME_MAX)
    if kind is not None:
        if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind) or kind == "correction":
            raise ValueError("kind must match [a-z][a-z0-9_]*, up to 32 characters ('correction' is the server's)")
        event["kind"] = kind
    if at is not None:
        event["at"] = _at_text(at)
    return event


@dataclass(eq=False)
class Frame:
    """A batch that travels and is answered as one. Its events are encoded once; `order` keeps
    retried frames ahead of newer ones; `attempts` counts sends the server may have seen."""

    order: int
    events: list[dict]
    body: str  # the events as a JSON array
    attempts: int = 0
    sent: int = 0  # times put on the wire (the first is not a retry)
    sent_at: float = field(default=0.0, repr=False)

    def ws_text(self, ref: int) -> str:
        return f'{{"type":"events","ref":{ref},"events":{self.body}}}'

    def http_body(self) -> bytes:
        return f'{{"events":{self.body}}}'.encode()


def frames_make(
    events: list[dict], orders: Iterator[int], max_bytes: int = MAX_FRAME_BYTES
) -> tuple[list[Frame], list[dict]]:
    """Frames for `events`, halved until each fits in `max_bytes` (a frame over the server's
    limit is refused, and would be again on every retry), and the events too large to send
    even alone."""
    body = body_make(events)
    if len(body.encode()) + 64 <= max_bytes:  # 64: the socket frame's envelope, ref included
        return [Frame(next(orders), events, body)], []
    if len(events) == 1:
        return [], events
    half = len(events) // 2
    first, first_large = frames_make(events[:half], orders, max_bytes)
    second, second_large = frames_make(events[half:], orders, max_bytes)
    return first + second, first_large + second_large


def body_make(events: list[dict]) -> str:
    return json.dumps(events, ensure_ascii=False, separators=(",", ":"))


def orders_new() -> Iterator[int]:
    return itertools.count()

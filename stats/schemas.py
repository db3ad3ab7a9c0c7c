"""Validation of what clients send (HTTP bodies and WebSocket frames), with pydantic.

Strict types: a float, bool or numeric string is not an integer number of points, and a
time is an ISO 8601 string with a zone, never a naive time or a Unix number to guess at.
"""

import functools
import itertools
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Literal

from django.conf import settings
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)

MAX_POINTS = 10**9
# The highest seq a client may name (replay's after_seq, resume): past bigint the database fails.
MAX_SEQ = 2**62
NAME_MAX = 64
TEAM_MAX = 32
# Stats one event may carry (EVENT_MAX_STATS): each is kept in up to 4 periods, for its player
# and its team. Read once, at import: the models and the OpenAPI document are built from it.
MAX_EVENT_STATS = settings.EVENT_MAX_STATS
# Stat values are summed into bigint totals: a bound that a billion events cannot overflow.
MAX_STAT_VALUE = 10**9
# Kinds only the server writes: a correction is appended by the admin, linked to its event.
RESERVED_KINDS = frozenset({"correction"})
# Control, format (zero-width, bidi), surrogate, private-use and unassigned characters, and
# line/paragraph separators: each hides or breaks a name where it is shown.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters and symbols that render as nothing (Hangul fillers, the blank Braille pattern).
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# The date-time forms of ISO 8601 that carry a zone, in ASCII digits. pydantic alone would
# also take 0, "0" or 1.5 as Unix times.
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)"
)


def char_visible(ch: str) -> bool:
    """Whether a character shows as something: a letter, digit, mark of punctuation or symbol,
    not one that renders as nothing (zero-width characters are Cf, so never visible)."""
    return unicodedata.category(ch)[0] in "LNPS" and ch not in _BLANK_LOOKING


def _clean_name(value: str) -> str:
    # Printable ASCII (nearly every name) needs neither the NFC pass nor the per-character
    # category scan, which together were ~10% of a 1,000-event POST (profiled).
    if not (value.isascii() and value.isprintable()):
        value = unicodedata.normalize("NFC", value)
        if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
            raise ValueError("must not contain control, invisible or line-separator characters")
        if not any(char_visible(ch) for ch in value):
            raise ValueError("must contain a visible character")
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value  # its length after NFC is checked by the name's type (_name_type)


def _kind_not_reserved(value: str) -> str:
    if value in RESERVED_KINDS:
        raise ValueError(f"{value!r} is reserved for the server")
    return value


def _at_text(value):
    # A datetime comes from Python callers (the admin form); clients send JSON strings.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_TIME.fullmatch(value)):
        return value
    raise ValueError("must be an ISO 8601 time with a time zone, e.g. 2026-11-21T19:00:00Z")


def _at_in_utc(value: datetime) -> datetime:
    # 9999-12-31T23:59:59-01:00 is year 10000 in UTC: PostgreSQL would store it (and break
    # every later read of the game in Python), SQLite's adapter would raise. In UTC, because
    # PostgreSQL refuses offsets past 15:59 that ISO 8601 (and Python) allow up to 23:59.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within the years 1 to 9999 once converted to UTC") from None


def _class_of(code_points) -> str:
    """A regex character class of these code points, as runs: BMP ones as \\uXXXX (Python's re,
    ECMA-262 and Rust's regex read those alike), others as themselves (none of them need escaping)."""

    def char(cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else chr(cp)

    runs = []
    for _, group in itertools.groupby(enumerate(code_points), key=lambda pair: pair[1] - pair[0]):
        run = [cp for _, cp in group]
        runs.append(char(run[0]) if len(run) == 1 else f"{char(run[0])}-{char(run[-1])}")
    return f"[{''.join(runs)}]"


def name_pattern_of(code_points) -> str:
    """_clean_name's rules as a JSON Schema pattern: no character of a refused category, and at
    least one visible character (which strip() cannot remove), as blank* (visible blank*)+, with
    the classes made of these code points only."""
    category = unicodedata.category
    visible, blank = [], []
    for cp in code_points:
        ch = chr(cp)
        if category(ch) not in _REFUSED_CATEGORIES:
            (visible if char_visible(ch) else blank).append(cp)
    return f"^{_class_of(blank)}*(?:{_class_of(visible)}{_class_of(blank)}*)+$"


@functools.cache
def name_pattern() -> str:
    """name_pattern_of every code point, for the OpenAPI document: built from the same tables
    and this Python's Unicode database when first asked (~0.5 s, once a process), never at
    import. The NFC length is the one rule a pattern cannot state."""
    return name_pattern_of(range(0x110000))


def _name_json_schema(schema: dict) -> None:
    schema["pattern"] = name_pattern()


def _name_or_empty_json_schema(schema: dict) -> None:
    schema["pattern"] = f"^$|{name_pattern()}"


NAME_RULES = "no control, invisible or line-separator characters, and at least one visible character"


def _name_type(max_chars: int, empty: bool = False):
    """A displayed name of at most `max_chars` characters, also after NFC (the stored form,
    which must fit its column: NFC can lengthen a name, U+FB2C to 3 characters); with `empty`,
    "" too (the server's default)."""

    def clean(value: str) -> str:
        if empty and value == "":
            return value
        value = _clean_name(value)
        if len(value) > max_chars:
            raise ValueError(f"must be at most {max_chars} characters once normalised (NFC)")
        return value

    low = 0 if empty else 1
    return Annotated[
        str,
        Field(
            min_length=low,
            max_length=max_chars,
            description=f"{low} to {max_chars} characters, also once normalised to NFC; {NAME_RULES}"
            + (", or empty" if empty else ""),
            json_schema_extra=_name_or_empty_json_schema if empty else _name_json_schema,
        ),
        AfterValidator(clean),
    ]


PlayerName = _name_type(NAME_MAX)
TeamName = _name_type(TEAM_MAX)
# A match's name and a stat's label: a name's rules (no NUL, which PostgreSQL refuses, and no
# bidi override, which turns the dashboard's text around), or "" for the server's default.
MatchName = _name_type(100, empty=True)
StatLabel = _name_type(NAME_MAX, empty=True)
# Client ids: what UUIDs, ULIDs and counters use. "~" is kept for server-made ids (corrections).
EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
EVENT_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")  # EventId, for ids in a URL's path
Kind = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z0-9_]*$",
        json_schema_extra={"not": {"enum": sorted(RESERVED_KINDS)}},
    ),
    AfterValidator(_kind_not_reserved),
]
# JSON Schema's "integer" takes 1.0 too; this API does not (strict: a float is refused, 422).
INTEGER_RULE = "a JSON integer, written without a fraction or an exponent (1.0 and 1e3 are refused)"
Points = Annotated[StrictInt, Field(ge=-MAX_POINTS, le=MAX_POINTS, description=INTEGER_RULE)]
At = Annotated[AwareDatetime, BeforeValidator(_at_text), AfterValidator(_at_in_utc)]


def _stats_not_points(value: dict | None) -> dict | None:
    if value and "points" in value:
        raise ValueError('"points" is the event\'s own field, not one of its stats')
    return value or None


STAT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
StatName = Annotated[str, Field(pattern=STAT_NAME_PATTERN)]
StatValue = Annotated[StrictInt, Field(ge=-MAX_STAT_VALUE, le=MAX_STAT_VALUE, description=INTEGER_RULE)]


def _points_or_stats_json_schema(schema: dict) -> None:
    # _points_default_with_stats: `points` may be left out when `stats` names at least one.
    schema["required"] = [name for name in schema.get("required", []) if name != "points"]
    stats_given = {"required": ["stats"], "properties": {"stats": {"type": "object", "minProperties": 1}}}
    schema["anyOf"] = [{"required": ["points"]}, stats_given]


class EventIn(BaseModel):
    """One event as a game server posts it: points, and the game's declared stats."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_points_or_stats_json_schema)

    id: EventId
    player: PlayerName
    points: Points
    kind: Kind = "score"
    # The patterns and the anyOf below are for the OpenAPI document; the validators enforce them.
    at: Annotated[At | None, Field(json_schema_extra={"pattern": f"^(?:{_ISO_TIME.pattern})$"})] = None
    stats: Annotated[
        dict[StatName, StatValue] | None,
        Field(
            max_length=MAX_EVENT_STATS,
            description="values of the game's declared stats, by name",
            json_schema_extra={"propertyNames": {"pattern": STAT_NAME_PATTERN, "not": {"const": "points"}}},
        ),
        AfterValidator(_stats_not_points),
    ] = None
    team: TeamName | None = None
    match: Annotated[EventId | None, Field(description="the match's id; default: the game's open match")] = None

    @model_validator(mode="before")
    @classmethod
    def _points_default_with_stats(cls, data):
        # An event of stats alone scores no points; one with neither is missing its points.
        if isinstance(data, dict) and "points" not in data and data.get("stats"):
            return {**data, "points": 0}
        return data


def stat_values_refusal(events) -> str | None:
    """Why a batch (a POST, an ingest frame) carries too many stat values in all, or None:
    BATCH_MAX_STAT_VALUES bounds the rows one transaction writes."""
    count = sum(len(e.stats) for e in events if e.stats)
    if count <= settings.BATCH_MAX_STAT_VALUES:
        return None
    return (
        f"at most {settings.BATCH_MAX_STAT_VALUES} stat values per batch (BATCH_MAX_STAT_VALUES),"
        f" this one has {count}; send fewer events per batch"
    )


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Past the most, the API answers 413 batch_too_large (stats.apikit), not 422.
    events: list[EventIn] = Field(min_length=1, max_length=settings.WEBGAME_MAX_BATCH)


def _events_body_tag(value) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "event"


# The event POST's body: one event, or a batch (an object with `events`); a tagged union, so a
# bad body's errors are those of the model it meant, not of both.
EventsIn = Annotated[
    Annotated[EventIn, Tag("event")] | Annotated[EventBatchIn, Tag("batch")], Discriminator(_events_body_tag)
]


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["resume"]
    after_seq: Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]


class PingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


class ChatIn(BaseModel):
    """A chat message. Its length is the chat service's to refuse (too_long, after normalising),
    so this bound only keeps absurd frames out of it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["chat"]
    text: Annotated[StrictStr, Field(max_length=4000)]


class ChatDeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["chat_delete"]
    id: Annotated[StrictInt, Field(ge=1)]


class ChatMuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["chat_mute"]
    user: Annotated[StrictStr, Field(min_length=1, max_length=150)]
    muted: StrictBool


# Problems an answer names, then their count: a 600 KB body of bad fields was a 2.99 MB 422.
ERRORS_SHOWN = 50


def errors_describe(exc) -> list[dict]:
    """pydantic's errors as `{"field": "events.3.points", "message": ...}`, without input echo:
    the first ERRORS_SHOWN, then one `{"field": "(more)", ...}` that counts the rest."""
    return error_list_describe(exc.errors(include_url=False, include_input=False))


def error_list_describe(errors: list[dict]) -> list[dict]:
    """errors_describe of a list of pydantic's error dicts (django-ninja's, stats.apikit)."""
    shown = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in errors[:ERRORS_SHOWN]
    ]
    if len(errors) > ERRORS_SHOWN:
        shown.append({"field": "(more)", "message": f"{len(errors) - ERRORS_SHOWN} more problems not listed"})
    return shown

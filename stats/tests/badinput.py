"""Hypothesis strategies for hostile input, shared by the HTTP and WebSocket bad-input tests.

Every generated case carries what the server must answer, decided by construction (which
rule the case breaks), not by asking the code under test."""

import itertools
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC

from hypothesis import strategies as st

from stats.live.consumers import GameConsumer

GAME_FRAME_TYPES = frozenset(GameConsumer.handlers)  # the types a game socket takes

SQL = ["'; DROP TABLE stats_scoreevent; --", "1 OR 1=1", '" OR ""="', "admin'--", "x; SELECT pg_sleep(5)"]
XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", '"><svg onload=alert(1)>']
TRICKY_NAMES = [*SQL, *XSS, "Zoë", "李小龍", "🎮 player", "Ω" * 64, "e\u0301", "ﬁ", "a b", "RTL עברית"]
ID_POOL = ["dup", "dup-2", "a.b:c", "0", "x" * 64]
_counter = itertools.count()

_any_id = st.from_regex(r"\A[A-Za-z0-9._:\-]{1,64}\Z")
# One id in ten from a small pool, so that ids collide across batches (mostly as conflicts).
# The rest are made unique with a counter: hypothesis repeats small values on purpose.
_fresh_id = _any_id.map(lambda s: f"{s[:50]}.{next(_counter)}")
valid_ids = st.one_of(*[_fresh_id] * 9, st.sampled_from(ID_POOL))
# Letters and symbols that show as blanks (Hangul fillers, the empty Braille cell): a name of
# only these is refused, so generated names leave them out.
BLANK_LOOKING = "\u115f\u1160\u3164\uffa0\u2800"
name_chars = st.characters(categories=["L", "N", "P", "S"], exclude_characters=BLANK_LOOKING)
valid_names = st.one_of(
    st.sampled_from(TRICKY_NAMES),
    # NFC lengthens some characters (U+FB2C is 3): the 64 count once normalised.
    st.text(name_chars, min_size=1, max_size=64).filter(lambda n: len(unicodedata.normalize("NFC", n)) <= 64),
)
valid_points = st.one_of(st.integers(-(10**9), 10**9), st.sampled_from([0, -1, 10**9, -(10**9)]))
valid_kinds = st.from_regex(r"\A[a-z][a-z0-9_]{0,31}\Z").filter(lambda k: k != "correction")
valid_ats = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())

BAD_FIELDS = {
    "id": ["", "x" * 65, "has space", "a/b", "<b>", "'; --", "ü", "~fix:1:1", 7, None, ["a"], {"a": 1}],
    "player": [
        *["", "   ", "x" * 65, "nul\x00", "esc\x1b[31m", "zero\u200bwidth", "\ud800", "bell\x07", 5, None, []],
        *["\u3164", "\u2800", "\u0301", "\u2028", "a\u2029b", "\ufb2c" * 64, "a" * 63 + "\u0958"],
    ],
    "points": [1.5, 1.0, "5", True, None, [], {}, 10**9 + 1, -(10**9) - 1, 10**30, -(10**30), 1e308],
    "kind": ["", "Score", "1st", "a" * 33, "drop table", 3, None, "correction"],
    "at": [
        *["yesterday", "2025-13-01T00:00:00Z", "2025-01-01T00:00:00", "", [], "9999-99-99", "2025-01-01"],
        *[0, "0", 1.5, 1763751600, "1763751600", True, "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"],
    ],
}


@dataclass
class Case:
    """A request body and the answer it must get ('batch' answers depend on what is stored)."""

    body: bytes
    expect: str
    events: list[dict] = field(default_factory=list)


def clean_name(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip()


@st.composite
def valid_events(draw) -> dict:
    event = {"id": draw(valid_ids), "player": draw(valid_names), "points": draw(valid_points)}
    if draw(st.booleans()):
        event["kind"] = draw(valid_kinds)
    if draw(st.booleans()):
        event["at"] = draw(valid_ats)
    return event


@st.composite
def invalid_events(draw) -> dict:
    event = draw(valid_events())
    how = draw(st.sampled_from(["field", "missing", "extra"]))
    if how == "field":
        name = draw(st.sampled_from(sorted(BAD_FIELDS)))
        event[name] = draw(st.sampled_from(BAD_FIELDS[name]))
    elif how == "missing":
        del event[draw(st.sampled_from(["id", "player", "points"]))]
    else:
        event[draw(st.sampled_from(["type", "seq", "extra", "__proto__"]))] = 1
    return event


def dumps(value) -> bytes:
    """UTF-8 JSON; \\u escapes only where UTF-8 cannot carry the text (lone surrogates)."""
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value).encode()


@st.composite
def http_cases(draw) -> Case:
    kind = draw(
        st.sampled_from(
            ["batch", "batch", "batch", "invalid", "invalid", "bad_json", "bad_shape", "constant", "big_batch", "huge"]
        )
    )
    if kind == "batch":
        events = draw(st.lists(valid_events(), min_size=1, max_size=6))
        if draw(st.integers(0, 3)) == 0:  # the same event twice in one batch: stored once
            events.insert(draw(st.integers(0, len(events))), dict(draw(st.sampled_from(events))))
        body = events[0] if len(events) == 1 and draw(st.booleans()) else {"events": events}
        return Case(dumps(body), "batch", events)
    if kind == "invalid":
        good = draw(st.lists(valid_events(), max_size=3))
        bad = draw(invalid_events())
        events = draw(st.permutations([*good, bad]))
        body = bad if not good and draw(st.booleans()) else {"events": events}
        if draw(st.integers(0, 9)) == 0:
            body = draw(st.sampled_from([{"events": []}, {"events": "x"}, {"events": [1]}, {"events": None}]))
        return Case(dumps(body), "invalid")
    if kind == "bad_json":
        raw = draw(
            st.one_of(
                st.binary(max_size=200).filter(lambda b: not _is_json(b)),
                st.sampled_from([b"", b" ", b"{", b'{"id": "a"', b"\xff\xfe{}", b"[" * 100_000, b'{"a":' * 50_000]),
                st.just(("1" * 5000).encode()),
            )
        )
        return Case(raw, "bad_json")
    if kind == "bad_shape":
        value = draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=20), st.none()))
        return Case(dumps(value), "bad_shape")
    if kind == "constant":
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        return Case(f'{{"id": "c", "player": "p", "points": {token}}}'.encode(), "bad_json")
    if kind == "big_batch":
        return Case(dumps({"events": [{"id": f"b{i}", "player": "p", "points": 1} for i in range(1001)]}), "too_many")
    return Case(dumps({"id": "big", "player": "p", "points": 1, "pad": "x" * (1024 * 1024)}), "too_large")


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


EXPECTED_STATUS = {
    "invalid": (422, "invalid"),
    "bad_json": (400, "bad_json"),
    "bad_shape": (400, "bad_shape"),
    "too_many": (413, "batch_too_large"),
    "too_large": (413, "too_large"),
}


class StoredModel:
    """What the log must hold, kept beside the server: (game, id) -> content."""

    def __init__(self) -> None:
        self.stored: dict[str, tuple] = {}
        self.last_seq = 0

    @staticmethod
    def content(event: dict) -> tuple:
        return (clean_name(event["player"]), event["points"], event.get("kind", "score"))

    def answer(self, events: list[dict]) -> tuple[int, dict | None]:
        """The status and body a batch must get; updates the model when it is accepted."""
        first: dict[str, dict] = {}
        for event in events:
            seen = first.setdefault(event["id"], event)
            if self.content(seen) != self.content(event):
                return 422, None
        for id_, event in first.items():
            if id_ in self.stored:
                content, at = self.stored[id_]
                if content != self.content(event) or ("at" in event and not _same_instant(event["at"], at)):
                    return 422, None
        new = [e for i, e in first.items() if i not in self.stored]
        for event in new:
            self.stored[event["id"]] = (self.content(event), event.get("at"))
        self.last_seq += len(new)
        return 202, {"accepted": len(new), "duplicates": len(events) - len(new), "last_seq": self.last_seq}


def _same_instant(a: str, b: str | None) -> bool:
    from datetime import datetime

    return b is not None and datetime.fromisoformat(a) == datetime.fromisoformat(b)


@dataclass
class Frame:
    """A WebSocket frame and the answer it must get: a frame type, or 'error <code>'."""

    data: str | bytes
    expect: str


def _text(value) -> str:
    return dumps(value).decode()


@st.composite
def ws_frames(draw) -> Frame:
    kind = draw(
        st.sampled_from(
            ["ping", "resume", "bad_resume", "bad_ping", "unknown", "bad_message", "bad_json", "binary", "big"]
        )
    )
    if kind == "ping":
        return Frame('{"type":"ping"}', "pong")
    if kind == "resume":
        return Frame(_text({"type": "resume", "after_seq": draw(st.integers(0, 10**6))}), "events|snapshot")
    if kind == "bad_resume":
        bad = draw(st.sampled_from([-1, 1.5, "3", True, None, [], {}, 2**63, 10**30, -(10**30), 1e308]))
        frame = {"type": "resume", "after_seq": bad} if draw(st.integers(0, 4)) else {"type": "resume"}
        if draw(st.integers(0, 5)) == 0:
            frame = {"type": "resume", "after_seq": 0, draw(st.sampled_from(["x", "seq", "game"])): 1}
        return Frame(_text(frame), "error bad_field")
    if kind == "bad_ping":
        return Frame(
            _text({"type": "ping", draw(st.sampled_from(["x", "after_seq", "<script>"])): 1}), "error bad_field"
        )
    if kind == "unknown":
        name = draw(st.one_of(st.sampled_from(["", "PING", "events", "snapshot", *SQL, *XSS]), st.text(max_size=40)))
        if name in GAME_FRAME_TYPES:  # a real type is not unknown (hypothesis found "chat")
            name += "!"
        return Frame(_text({"type": name, "after_seq": 0}), "error unknown_type")
    if kind == "bad_message":
        value = draw(
            st.one_of(
                st.lists(st.integers(), max_size=3),
                st.integers(),
                st.none(),
                st.text(max_size=10),
                st.fixed_dictionaries({"type": st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3)))}),
                st.just({}),
            )
        )
        return Frame(_text(value), "error bad_message")
    if kind == "bad_json":
        raw = draw(
            st.one_of(
                st.text(max_size=100).filter(lambda t: not _is_json(t.encode("utf-8", "surrogatepass"))),
                st.sampled_from(
                    [
                        '{"type":"ping"',
                        "[" * 60_000,
                        '{"type": NaN}',
                        '{"type":"resume","after_seq":Infinity}',
                        "",
                        "undefined",
                        "{'type': 'ping'}",
                    ]
                ),
            )
        )
        return Frame(raw, "error bad_json")
    if kind == "binary":
        return Frame(draw(st.binary(min_size=1, max_size=200)), "error binary_unsupported")
    return Frame('{"type":"ping","pad":"' + "x" * (64 * 1024) + '"}', "error too_large")

"""The ingest socket's frames: what a game server sends (checked with the HTTP body's event
model) and what it is answered."""

import re
from typing import Annotated, Literal

from django.db import DatabaseError
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from stats import services
from stats.live import frames
from stats.schemas import MAX_SEQ, EventIn, PingIn, errors_describe
from stats.scoring.record import EventsRefused

__all__ = ["IngestEventsIn", "PingIn", "ack", "error_for", "ref_of", "ref_peek"]

Ref = Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]


class IngestEventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["events"]
    ref: Ref
    events: list[EventIn] = Field(min_length=1)


def ref_of(content: dict) -> int | None:
    """The frame's ref if it is a valid one, so that even a refused frame's answer names it."""
    ref = content.get("ref")
    return ref if type(ref) is int and 0 <= ref <= MAX_SEQ else None


# A ref at the object's top level, read from the text without parsing it: first after the
# opening brace (or after a "type" member), or last before the closing one. Inside a string a
# quote would be escaped, and a nested object's ref is followed by a second brace, so neither
# matches. A ref elsewhere in an unparsed frame is not found (its answer then has no ref).
_REF_HEAD = re.compile(r'\s*\{\s*(?:"type"\s*:\s*"[a-z_]{0,32}"\s*,\s*)?"ref"\s*:\s*(\d{1,19})\s*[,}]')
_REF_TAIL = re.compile(r'[{,]\s*"ref"\s*:\s*(\d{1,19})\s*\}\s*$')
_PEEK_CHARS = 96


def ref_peek(text: str) -> int | None:
    """The ref of a frame too large (or too broken) to parse, from its head or its tail: so
    that its error still names it. Reads at most 2 x 96 characters, whatever the frame's size."""
    found = _REF_HEAD.match(text[:_PEEK_CHARS]) or _REF_TAIL.search(text[-_PEEK_CHARS:])
    ref = int(found.group(1)) if found else None
    return ref if ref is not None and ref <= MAX_SEQ else None


def ack(ref: int, result: services.RecordResult) -> dict:
    return {
        "type": "ack",
        "ref": ref,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "last_seq": result.last_seq,
    }


def error_for(exc: BaseException, ref: int | None) -> dict:
    """The error frame for what refused a frame: the HTTP API's codes."""
    if isinstance(exc, ValidationError):
        return frames.error("invalid", "some fields are invalid", details=errors_describe(exc), ref=ref)
    if isinstance(exc, services.EventConflict):
        details = [{"field": "id", "message": i} for i in exc.ids]
        return frames.error("id_conflict", str(exc), details=details, ref=ref)
    if isinstance(exc, EventsRefused):
        extra = {"details": exc.details} if exc.details else {}
        return frames.error(exc.code, exc.message, ref=ref, **extra)
    if isinstance(exc, DatabaseError):
        return frames.error("unavailable", "the database failed; send the frame again", ref=ref)
    return frames.error("unavailable", "the frame could not be stored; send it again", ref=ref)

"""The server's answer to a frame, from either transport, and what the client does about it.

The socket answers `ack` or `error` frames; HTTP answers a 202 or an error status with a JSON
body. Both become an Answer, so the decision (settle, retry, report) is made in one place."""

import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

# Worth sending again: the server was busy, down, or the answer was lost on the way.
RETRYABLE = frozenset(
    {"rate_limited", "unavailable", "server_error", "body_timeout", "connection_lost", "no_answer", "unreachable"}
)
# Retried without counting against max_retries: the server saw nothing (unreachable), or asked
# us to slow down (rate_limited), which is pacing, not failure.
NOT_COUNTED = frozenset({"rate_limited", "unreachable"})
# Everything else (invalid, id_conflict, unknown_stat, unknown_match, match_ended, unauthorized,
# not_found, batch_too_large, ...) would be refused again: reported through on_error, never
# retried. An unknown code is treated so too, rather than looping on it.


@dataclass(frozen=True)
class Answer:
    ok: bool
    accepted: int = 0
    duplicates: int = 0
    code: str = ""
    message: str = ""
    retry_after: float | None = None  # seconds, when the server said (HTTP 429's Retry-After)
    last_seq: int | None = None  # an ack's: the game's last seq once the frame was stored

    @property
    def retryable(self) -> bool:
        return not self.ok and self.code in RETRYABLE


def ws_answer(message: dict) -> Answer | None:
    """An `ack` or `error` frame as an Answer; None for other frames (a pong)."""
    kind = message.get("type")
    if kind == "ack":
        return _ack(message)
    if kind == "error":
        retry_after = message.get("retry_after")
        return Answer(
            ok=False,
            code=str(message.get("code", "")),
            message=_message(message),
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        )
    return None


def _message(error: dict, default: str = "") -> str:
    """The error's message, with the fields it names (`details`): what a developer needs to
    find the bad event in a refused batch."""
    text = str(error.get("message") or default)
    details = error.get("details")
    if isinstance(details, list) and details:
        named = [f"{d.get('field')}: {d.get('message')}" for d in details[:5] if isinstance(d, dict)]
        text += f" ({'; '.join(named)}{'; ...' if len(details) > 5 else ''})"
    return text


def _ack(data: dict) -> Answer:
    """The socket's `ack` frame and HTTP's 202 body carry the same fields."""
    last_seq = data.get("last_seq")
    return Answer(
        ok=True,
        accepted=_count(data, "accepted"),
        duplicates=_count(data, "duplicates"),
        last_seq=last_seq if isinstance(last_seq, int) else None,
    )


def _count(data: dict, name: str) -> int:
    value = data.get(name, 0)
    return value if isinstance(value, int) else 0


def http_post(url: str, key: str, body: bytes, timeout: float) -> Answer:
    """POST one frame's body (blocking: runs on a thread of its own). Never raises: a failure
    of the network is an Answer too, so that the caller has one path."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _ack(_json(response.read()))
    except urllib.error.HTTPError as exc:
        with exc:
            return _http_error(exc.code, _json(_body_read(exc)), exc.headers.get("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        return _network_error(exc)


def _http_error(status: int, data: dict, retry_after: str | None) -> Answer:
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    code = str(error.get("code") or "")
    message = _message(error, f"HTTP {status}")
    if status >= 500 and code not in RETRYABLE:
        code = "server_error"  # a proxy's 502, or a server error page without our JSON
    elif status == 429:
        code = "rate_limited"
    elif not code:
        code = f"http_{status}"
    return Answer(ok=False, code=code, message=message, retry_after=_seconds(retry_after))


def _network_error(exc: Exception) -> Answer:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError | socket.gaierror):
        # Refused, or no such host: the request never reached the server, nothing to count.
        return Answer(ok=False, code="unreachable", message=str(reason))
    # A timeout or a reset: the server may have stored the frame, the retry will tell.
    return Answer(ok=False, code="connection_lost", message=str(reason) or type(reason).__name__)


def _body_read(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read()
    except (OSError, http.client.HTTPException):
        return b""  # the status says enough


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: rare enough to leave to the backoff


def _json(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}

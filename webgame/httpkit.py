"""The three things every HTTP and WebSocket entry point shares, each written once (issue #20):
the API's JSON error body, the Bearer credential of an `Authorization` header, and the client
address (BEHIND_PROXY honoured).

Plain functions of headers and settings, with no model import: the ASGI layers below Django
(webgame.edge, the heavy-read gate) use them as well as the views.
"""

import json

from django.conf import settings
from django.http import JsonResponse


def error_body(code: str, message: str, details: list | None = None) -> dict:
    """`{"error": {"code", "message", "details"?}}`: `details` only where fields are at fault."""
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def error_bytes(code: str, message: str, details: list | None = None) -> bytes:
    """error_body encoded, for an answer sent without Django (the ASGI layers)."""
    return json.dumps(error_body(code, message, details)).encode()


def error_response(
    status: int, code: str, message: str, details: list | None = None, headers: dict | None = None
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def bearer_token(header: str | bytes | None) -> str | None:
    """The credential of `Authorization: Bearer <credential>` (scheme case-insensitive), or None."""
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, raw = (header or "").partition(" ")
    raw = raw.strip()
    return raw if scheme.lower() == "bearer" and raw else None


def scope_header(scope: dict, name: bytes) -> str | None:
    """One request header of an ASGI scope; repeated ones joined with commas, as Django does."""
    values = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]
    return ",".join(values) or None


def client_address(*, peer: str | None, forwarded: str | None) -> str:
    """The client's address: the TCP peer, unless BEHIND_PROXY is on: then the last entry of
    X-Forwarded-For, the one our own proxy appended (entries before it are whatever the client
    sent, so never those). Empty when there is neither (a unix socket)."""
    raw = peer or ""
    if settings.BEHIND_PROXY and forwarded:
        raw = forwarded.rsplit(",", 1)[-1].strip() or raw
    return raw


def request_client_address(request) -> str:
    """client_address of a Django request (daphne and uvicorn fill REMOTE_ADDR from the scope)."""
    return client_address(peer=request.META.get("REMOTE_ADDR"), forwarded=request.META.get("HTTP_X_FORWARDED_FOR"))


def scope_client_address(scope: dict) -> str:
    """client_address of an ASGI scope (a WebSocket's)."""
    client = scope.get("client")
    return client_address(peer=client[0] if client else None, forwarded=scope_header(scope, b"x-forwarded-for"))

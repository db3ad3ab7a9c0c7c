"""webgame.httpkit: the one error body, Bearer parser and client address (issue #20)."""

import json

import pytest

from webgame import httpkit


def test_error_body_has_details_only_where_fields_are_at_fault():
    assert httpkit.error_body("busy", "later") == {"error": {"code": "busy", "message": "later"}}
    details = [{"field": "id", "message": "required"}]
    assert httpkit.error_body("invalid", "bad", details)["error"]["details"] == details
    assert json.loads(httpkit.error_bytes("busy", "later")) == httpkit.error_body("busy", "later")


def test_error_response_carries_status_and_headers():
    response = httpkit.error_response(429, "rate_limited", "slow down", headers={"Retry-After": "3"})
    assert (response.status_code, response["Retry-After"], json.loads(response.content)["error"]["code"]) == (
        429,
        "3",
        "rate_limited",
    )


@pytest.mark.parametrize(
    "header, expected",
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        (b"BEARER abc", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, expected):
    assert httpkit.bearer_token(header) == expected


@pytest.mark.parametrize("behind_proxy, expected", [(False, "10.0.0.1"), (True, "198.51.100.9")])
def test_client_address_takes_the_last_forwarded_entry_only_behind_a_proxy(settings, behind_proxy, expected):
    settings.BEHIND_PROXY = behind_proxy
    forwarded = "203.0.113.5, 198.51.100.9"
    assert httpkit.client_address(peer="10.0.0.1", forwarded=forwarded) == expected
    scope = {
        "client": ("10.0.0.1", 5000),
        "headers": [(b"x-forwarded-for", b"203.0.113.5"), (b"x-forwarded-for", b"198.51.100.9")],
    }
    assert httpkit.scope_client_address(scope) == expected

"""Helpers shared by the API test modules."""

import json


def post(client, slug, body, key=None, raw=False):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = body if raw else json.dumps(body)
    return client.post(f"/api/games/{slug}/events", data=data, content_type="application/json", **headers)


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]["code"]

"""Hostile and malformed bodies against the events API: each gets its defined answer (JSON
4xx, or 202 with exact counts), nothing half-stored, no 5xx, and the totals always add up."""

import asyncio
import http.client
import json
import threading

import pytest
import websockets
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stats.models import Game, Player, ScoreEvent
from stats.tests.badinput import EXPECTED_STATUS, Case, StoredModel, clean_name, http_cases
from stats.tests.figures import AnswerTimes, figures_record


def fuzz(examples: int) -> settings:
    # No deadline: answer times are measured and reported, not asserted (the machine is shared).
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))


def assert_log_adds_up(game: Game) -> None:
    game.refresh_from_db()
    events = ScoreEvent.objects.filter(game=game)
    assert game.event_count == game.last_seq == events.count()
    points = events.aggregate(s=Sum("points"))["s"] or 0
    assert game.points_total == points == (Player.objects.filter(game=game).aggregate(s=Sum("total"))["s"] or 0)


def check_answer(case: Case, model: StoredModel, status: int, body: dict) -> str:
    """Assert the answer `case` must get; returns a label for the figures."""
    assert status < 500, body
    if case.expect == "batch":
        want_status, want_body = model.answer(case.events)
        assert status == want_status, (case.events, body)
        if want_body is None:
            assert body["error"]["code"] == "id_conflict"
            return "422 id_conflict"
        assert body == want_body
        return "202 retry" if body["accepted"] == 0 else "202"
    want_status, want_code = EXPECTED_STATUS[case.expect]
    assert (status, body["error"]["code"]) == (want_status, want_code), (case.body[:300], body)
    assert isinstance(body["error"]["message"], str)
    return f"{status} {want_code}"


def assert_stored_as_sent(game: Game, model: StoredModel) -> None:
    rows = ScoreEvent.objects.filter(game=game).select_related("player")
    stored = {e.event_id: (e.player.name, e.points, e.kind) for e in rows}
    assert stored == {id_: content for id_, (content, _) in model.stored.items()}


def test_events_api_answers_every_bad_body_with_its_defined_answer(game, api_key):
    client = Client()
    model = StoredModel()
    times = AnswerTimes()

    accepted: list[Case] = []

    @fuzz(350)
    @given(case=http_cases(), retry=st.sampled_from([False, False, False, True]))
    def one(case: Case, retry: bool):
        if retry and accepted:
            case = accepted[-1]  # the same batch again, as a sender does after a lost answer
        before = ScoreEvent.objects.filter(game=game).count()
        with times.case():
            response = client.post(
                f"/api/games/{game.slug}/events",
                case.body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {api_key}",
            )
        assert response["Content-Type"] == "application/json"
        times.answered(check_answer(case, model, response.status_code, json.loads(response.content)))
        if response.status_code != 202:
            assert ScoreEvent.objects.filter(game=game).count() == before
        elif case.expect == "batch":
            accepted.append(case)
        assert_log_adds_up(game)

    one()
    assert_stored_as_sent(game, model)
    figures_record("http_in_process", **times.as_dict())


@pytest.mark.parametrize("auth", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer wg_x_y", "Bearer ' OR 1=1 --"])
def test_bad_or_missing_key_is_401_whatever_the_body(client, game, auth):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = client.post(f"/api/games/{game.slug}/events", b"\xff{", content_type="application/json", **headers)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthorized")


def test_stored_names_come_back_verbatim_as_json_never_as_markup(client, game, api_key):
    names = ["<script>alert(1)</script>", "'; DROP TABLE stats_scoreevent; --", "李小龍 🎮"]
    body = {"events": [{"id": f"n{i}", "player": n, "points": 1} for i, n in enumerate(names)]}
    client.post(
        f"/api/games/{game.slug}/events", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    snapshot = client.get(f"/api/games/{game.slug}/snapshot")
    assert snapshot["Content-Type"] == "application/json"
    assert {row["player"] for row in snapshot.json()["leaderboard"]} == {clean_name(n) for n in names}
    assert ScoreEvent.objects.count() == 3  # the table is still there


class Viewer:
    """A dashboard-like WebSocket client in a thread: applies frames exactly as the page does."""

    def __init__(self, url: str, origin: str):
        self.url, self.origin, self.last_seq, self.totals, self.types = url, origin, 0, {}, set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self):
        async with websockets.connect(self.url, origin=self.origin) as ws:
            while not self.stop.is_set():
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except TimeoutError:
                    continue
                self.apply(frame)

    def apply(self, frame: dict) -> None:
        self.types.add(frame["type"])
        if frame["type"] == "snapshot":
            self.last_seq = frame["seq"]
            self.totals = {p["player"]: p["total"] for p in frame["leaderboard"]}
        elif frame["type"] == "events" and frame["events"]:
            assert frame["events"][0]["seq"] <= self.last_seq + 1, "gap in the live stream"
            self.last_seq = max(self.last_seq, frame["events"][-1]["seq"])
            self.totals.update({p["player"]: p["total"] for p in frame["players"]})


def test_real_server_answers_bad_bodies_and_a_viewer_sees_exactly_what_was_stored(live, game, api_key):
    log_start = len(live.log())
    viewer = Viewer(f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/", origin=live.url)
    viewer.thread.start()
    model = StoredModel()
    times = AnswerTimes()
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)

    @fuzz(120)
    @given(case=http_cases())
    def one(case: Case):
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        with times.case():
            conn.request("POST", f"/api/games/{game.slug}/events", body=case.body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        times.answered(check_answer(case, model, response.status, json.loads(raw)))

    try:
        one()
    finally:
        conn.close()
    assert_log_adds_up(game)
    assert_stored_as_sent(game, model)
    expected = {p.name: p.total for p in Player.objects.filter(game=game).order_by("-total", "name")[:20]}
    deadline = 100
    while (viewer.last_seq, viewer.totals) != (game.last_seq, {**viewer.totals, **expected}) and deadline:
        deadline -= 1
        threading.Event().wait(0.05)
    viewer.stop.set()
    viewer.thread.join(5)
    assert viewer.last_seq == game.last_seq
    assert {name: viewer.totals.get(name) for name in expected} == expected
    assert "error" not in viewer.types
    assert "Traceback" not in live.log()[log_start:]
    figures_record("http_daphne", **times.as_dict())

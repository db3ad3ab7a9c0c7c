"""The ingest socket holds a frame to the HTTP body's bound on stat values (issue #19): over
BATCH_MAX_STAT_VALUES, the frame is refused by its ref with `too_many_stat_values`, nothing is
stored, and the socket stays open."""

import json

import pytest
from asgiref.sync import sync_to_async

from stats.scoring import services as scoring
from stats.tests.ingest_support import answer, connect, events_frame, stored_ids

pytestmark = pytest.mark.django_db(transaction=True)
STATS = [f"s{i}" for i in range(32)]


async def test_a_frame_over_the_stat_values_bound_is_refused_by_its_ref(live, game, api_key):
    for name in STATS:
        await sync_to_async(scoring.stat_declare)(game=game, name=name)
    stats = dict.fromkeys(STATS, 1)
    events = [{"id": f"e{i}", "player": f"p{i}", "stats": stats} for i in range(130)]  # 4,160 values
    async with connect(live, api_key, game.slug) as ws:
        await ws.send(json.dumps({"type": "events", "ref": 9, "events": events}))
        refused = await answer(ws)
        assert (refused["type"], refused["ref"], refused["code"]) == ("error", 9, "too_many_stat_values")
        assert "BATCH_MAX_STAT_VALUES" in refused["message"] and "4160" in refused["message"]
        await ws.send(events_frame(10, "fine"))
        assert (await answer(ws))["type"] == "ack"
    assert await stored_ids(game) == ["fine"]

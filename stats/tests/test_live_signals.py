"""One way to publish (issue #21): each write sends its domain signal (stats.signals), and
the signal's one receiver publishes the frame, which arrives in the game's (or the lobby's)
group. And nothing but the receivers calls the publish entry point."""

import ast
import asyncio
import json
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import User

from stats import services, signals
from stats.chat import services as chat_services
from stats.live import cut, frames, presence, publish
from stats.scoring import services as scoring
from stats.tests.support import event_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def game(db):
    return services.game_create(slug=f"sig-{uuid.uuid4().hex[:10]}", name="Signals")


@pytest.fixture
def staff(db):
    return User.objects.create_user(f"mod-{uuid.uuid4().hex[:8]}", password="pw-signals-1", is_staff=True)


class Caught:
    """The sends of one signal during a test (connected strongly, disconnected at the end)."""

    def __init__(self, signal) -> None:
        self.signal, self.sends = signal, []
        signal.connect(self, weak=False, dispatch_uid=id(self))

    def __call__(self, sender, **kwargs) -> None:
        self.sends.append(kwargs)

    def close(self) -> None:
        self.signal.disconnect(dispatch_uid=id(self))


@pytest.fixture
def caught():
    made: list[Caught] = []

    def catch(signal) -> Caught:
        made.append(Caught(signal))
        return made[-1]

    yield catch
    for c in made:
        c.close()


async def subscribe(group: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def receive(channel: str) -> dict:
    """The next message on `channel`, its frame checked against stats.live.frames (the frame
    every viewer would be sent: frame_check sees those only where a socket sends them)."""
    message = await asyncio.wait_for(get_channel_layer().receive(channel), 10)
    text = cut.message_text(message) if message["type"] == "game.events" else message["text"]
    frames.frame_validate(json.loads(text))
    return message


async def test_recorded_events_send_their_signal_and_reach_the_game_and_the_lobby(game, caught):
    sends = caught(signals.score_events_recorded)
    channel, lobby = await subscribe(publish.game_group(game.pk)), await subscribe(publish.LOBBY_GROUP)
    await database_sync_to_async(services.score_events_record)(game_id=game.pk, events=[event_in("a")])
    assert [s["game"].pk for s in sends.sends] == [game.pk]
    message = await receive(channel)
    assert (message["type"], message["first_seq"], message["last_seq"]) == ("game.events", 1, 1)
    while (totals := await receive(lobby))["game_id"] != game.pk:
        pass  # another test's game
    assert json.loads(totals["text"])["game"]["last_seq"] == 1


async def test_a_chat_message_posted_sends_its_signal_and_its_frame(game, staff, caught):
    sends = caught(signals.chat_message_posted)
    channel = await subscribe(publish.game_group(game.pk))
    message = await database_sync_to_async(chat_services.chat_message_post)(game_id=game.pk, user=staff, text="gg")
    assert [s["message"].pk for s in sends.sends] == [message.pk]
    got = await receive(channel)
    assert (got["type"], json.loads(got["text"])["message"]["text"]) == ("game.chat", "gg")


async def test_a_chat_message_deleted_sends_its_signal_and_its_frame_once(game, staff, caught):
    sends = caught(signals.chat_message_deleted)
    message = await database_sync_to_async(chat_services.chat_message_post)(game_id=game.pk, user=staff, text="x")
    channel = await subscribe(publish.game_group(game.pk))
    for _ in range(2):  # the second delete changes nothing: no signal, no frame
        await database_sync_to_async(chat_services.chat_message_delete)(message_id=message.pk, by=staff)
    assert [s["message_id"] for s in sends.sends] == [message.pk]
    got = await receive(channel)
    assert json.loads(got["text"]) == {"type": "chat_deleted", "id": message.pk}


async def test_a_match_started_and_ended_send_their_signals_and_frames(game, caught):
    started, ended = caught(signals.match_started), caught(signals.match_ended)
    channel = await subscribe(publish.game_group(game.pk))
    await database_sync_to_async(scoring.match_start)(game_id=game.pk, match_id="m1", name="One")
    await database_sync_to_async(scoring.match_end)(game_id=game.pk, match_id="m1")
    assert [s["match"].match_id for s in started.sends + ended.sends] == ["m1", "m1"]
    statuses = [json.loads((await receive(channel))["text"])["match"]["status"] for _ in range(2)]
    assert statuses == ["live", "finished"]


async def test_a_viewer_count_sends_its_signal_and_its_frame(game, caught):
    sends = caught(signals.viewers_counted)
    channel = await subscribe(publish.game_group(game.pk))
    await presence.viewers_announce(game_id=game.pk, viewers=7)
    assert [s["viewers"] for s in sends.sends] == [7]
    got = await receive(channel)
    assert (got["type"], json.loads(got["text"])) == ("game.presence", {"type": "presence", "viewers": 7})


ROOT = Path(settings.BASE_DIR)
SENDERS = {"publish_on_commit": {"stats/receivers.py"}, "group_send": {"stats/live/publish.py"}}
SENDERS["messages_send"] = SENDERS["messages_send_async"] = {"stats/live/publish.py"}


def calls_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def test_only_the_receivers_call_the_publish_entry_point():
    sources = [p for d in ("stats", "webgame", "worker") for p in (ROOT / d).rglob("*.py") if "tests" not in p.parts]
    assert len(sources) > 50
    callers: dict[str, set[str]] = {name: set() for name in SENDERS}
    for path in sources:
        for name in calls_of(path) & SENDERS.keys():
            callers[name].add(path.relative_to(ROOT).as_posix())
    assert callers == SENDERS


def test_publish_has_one_entry_point():
    entry_points = [n for n in dir(publish) if "publish" in n and callable(getattr(publish, n))]
    assert entry_points == ["publish_on_commit"]

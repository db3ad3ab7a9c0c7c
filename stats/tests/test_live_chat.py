"""stats.live.chat: the seeds' authenticated group chat on the game socket, and chat on the
feed's side path (stats.live.fanout), which never holds up an events frame."""

import asyncio

import pytest

from stats.live import publish
from stats.live.frames import OutFrame
from stats.tests.live_support import _no_presence_left_over, record, user_cookie, watch
from stats.tests.support import event_in

pytestmark = pytest.mark.django_db(transaction=True)
_no_presence_left_over = _no_presence_left_over  # autouse: presence counts start from zero


async def frame_of_type(comm, kind: str) -> dict:
    while (frame := await comm.receive_json_from(timeout=5))["type"] != kind:
        pass
    return frame


async def pong_after(comm) -> list[dict]:
    """Every frame up to the pong of a ping sent now: the server answers in order."""
    await comm.send_json_to({"type": "ping"})
    frames = [await comm.receive_json_from(timeout=5)]
    while frames[-1]["type"] != "pong":
        frames.append(await comm.receive_json_from(timeout=5))
    return frames


async def test_a_message_reaches_every_viewer_and_the_next_snapshot(game):
    user, cookie = await user_cookie()
    sender, _ = await watch(game, cookie)
    anonymous, _ = await watch(game)
    await sender.send_json_to({"type": "chat", "text": "  good game  "})
    for comm in (sender, anonymous):
        message = (await frame_of_type(comm, "chat"))["message"]
        assert (message["user"], message["text"]) == (user.username, "good game")
    late, snapshot = await watch(game)
    assert [m["text"] for m in snapshot["chat"]] == ["good game"]
    for comm in (sender, anonymous, late):
        await comm.disconnect()


async def test_an_anonymous_viewer_is_told_to_log_in_and_stays_connected(game):
    comm, snapshot = await watch(game)
    assert snapshot["chat"] == []
    await comm.send_json_to({"type": "chat", "text": "hi"})
    frames = await pong_after(comm)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["login_required"]
    assert "chat" not in [f["type"] for f in frames]
    await comm.disconnect()


@pytest.mark.parametrize(("text", "code"), [("x" * 501, "too_long"), ("   ", "empty")])
async def test_a_refused_message_is_an_error_frame_and_is_not_sent(game, text, code):
    _, cookie = await user_cookie()
    comm, _ = await watch(game, cookie)
    await comm.send_json_to({"type": "chat", "text": text})
    frames = await pong_after(comm)
    assert [f.get("code") for f in frames if f["type"] == "error"] == [code]
    assert "chat" not in [f["type"] for f in frames]
    await comm.disconnect()


async def test_over_the_per_user_rate_a_sender_gets_an_error_frame(game, settings):
    settings.CHAT_RATE_LIMIT, settings.CHAT_RATE_WINDOW = 2, 60
    _, cookie = await user_cookie()
    comm, _ = await watch(game, cookie)
    for n in range(3):
        await comm.send_json_to({"type": "chat", "text": f"m{n}"})
    frames = await pong_after(comm)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["chat_rate_limited"]
    await comm.disconnect()


async def test_staff_delete_a_message_live_and_mute_a_user(game):
    user, cookie = await user_cookie()
    _, staff_cookie = await user_cookie(staff=True)
    sender, _ = await watch(game, cookie)
    staff, _ = await watch(game, staff_cookie)
    await sender.send_json_to({"type": "chat", "text": "spam"})
    message = (await frame_of_type(staff, "chat"))["message"]
    await sender.send_json_to({"type": "chat_delete", "id": message["id"]})  # not staff
    assert [f.get("code") for f in await pong_after(sender) if f["type"] == "error"] == ["forbidden"]
    await staff.send_json_to({"type": "chat_delete", "id": message["id"]})
    assert (await frame_of_type(sender, "chat_deleted"))["id"] == message["id"]
    await staff.send_json_to({"type": "chat_mute", "user": user.username, "muted": True})
    await pong_after(staff)  # the mute is stored once the staff socket has answered
    await sender.send_json_to({"type": "chat", "text": "more spam"})
    assert [f.get("code") for f in await pong_after(sender) if f["type"] == "error"] == ["muted"]
    _, snapshot = await watch(game)
    assert snapshot["chat"] == []  # the deleted message is gone from the history too
    for comm in (sender, staff):
        await comm.disconnect()


class SlowChatViewer:
    """A viewer whose chat frames are stuck (say, a socket that is slow to take text)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.events: list[tuple[int, int]] = []

    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None:
        self.events.append((first_seq, last_seq))

    async def text_forward(self, frame: OutFrame) -> None:
        await self.release.wait()

    async def live_forward(self, last_seq) -> None:
        pass


async def test_events_never_wait_behind_chat_frames(game, settings):
    settings.FRAME_TICK_MS = 0
    from stats.live import hub as hubs

    hubs._hubs.clear()
    hub, viewer = hubs.hub_get(), SlowChatViewer()
    feed = await hub.join(publish.game_group(game.pk), viewer, game_id=game.pk)
    for n in range(5):  # stuck behind the viewer: a chat frame is being handed out meanwhile
        feed.out.chat_add(f'{{"type":"chat","message":{{"id":{n + 1},"user":"u","text":"t","at_ms":0}}}}')
    await record(game, event_in("a"))
    async with asyncio.timeout(10):
        while not viewer.events:  # noqa: ASYNC110 - the condition: the events frame went out
            await asyncio.sleep(0.01)
    assert viewer.events == [(1, 1)] and feed.out.chat_task is not None and not feed.out.chat_task.done()
    viewer.release.set()
    await hub.leave(publish.game_group(game.pk), viewer)  # the last viewer: the feed stops, its chat task with it

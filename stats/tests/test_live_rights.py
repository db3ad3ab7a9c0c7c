"""Rights on open sockets (issue #19, stats.live.rights), against a real daphne: a socket
kept the rights its user had at the handshake. Each test failed before the fix: the removed
viewer kept its socket and its events, the logged-out and the deactivated user chatted on,
and staff who lost is_staff still deleted and muted."""

import asyncio
import json
import uuid

import pytest
import websockets
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from stats import services
from stats.chat.models import ChatMessage
from stats.tests.chaos import origin_of

pytestmark = pytest.mark.django_db(transaction=True)


def user_with_session(*, staff: bool = False) -> tuple[User, Client, str]:
    """A user logged in by a client of this process (its session is in the shared database)."""
    user = User.objects.create_user(f"u{uuid.uuid4().hex[:8]}", is_staff=staff)
    client = Client()
    client.force_login(user)
    return user, client, f"sessionid={client.cookies['sessionid'].value}"


def game_new(*, private: bool = False):
    return services.game_create(slug=f"r-{uuid.uuid4().hex[:8]}", name="Rights", is_public=not private)


async def in_thread(fn, *args):
    """An ORM call from the scenario: in a thread, its connection closed after."""

    def run():
        try:
            return fn(*args)
        finally:
            connection.close()

    return await asyncio.to_thread(run)


async def socket_open(live, slug: str, cookie: str):
    url = f"ws://127.0.0.1:{live.port}/ws/games/{slug}/"
    ws = await websockets.connect(url, origin=origin_of(url), additional_headers={"Cookie": cookie})
    async with asyncio.timeout(10):
        while json.loads(await ws.recv())["type"] != "connection_established":
            pass
    return ws


async def until(ws, predicate) -> list[dict]:
    """Frames read up to and including the first that satisfies `predicate`."""
    seen = []
    async with asyncio.timeout(10):
        while not seen or not predicate(seen[-1]):
            seen.append(json.loads(await ws.recv()))
    return seen


async def answers(ws, frame: dict) -> list[dict]:
    """What the server sends up to the pong of a ping sent after `frame` (answers are in order)."""
    await ws.send(json.dumps(frame))
    await ws.send('{"type": "ping"}')
    return await until(ws, lambda f: f["type"] == "pong")


def errors(frames: list[dict]) -> list[str]:
    return [f["code"] for f in frames if f["type"] == "error"]


def test_a_viewer_removed_from_a_private_game_is_told_and_closed(live):
    game = game_new(private=True)
    user, _, cookie = user_with_session()
    game.viewers.add(user)

    async def scenario():
        ws = await socket_open(live, game.slug, cookie)
        await in_thread(game.viewers.remove, user)
        try:
            frames = await until(ws, lambda f: f["type"] == "error")
            await asyncio.wait_for(ws.wait_closed(), 10)
        finally:
            await ws.close()
        return frames[-1], ws.close_code

    last, code = asyncio.run(scenario())
    assert (last["code"], code) == ("forbidden", 4403)


def test_a_viewer_of_the_private_game_that_stays_listed_keeps_watching(live):
    """The rights message of another user's removal closes nothing else."""
    game = game_new(private=True)
    (stays, _, cookie), (goes, _, other) = user_with_session(), user_with_session()
    game.viewers.add(stays, goes)

    async def scenario():
        kept, removed = await socket_open(live, game.slug, cookie), await socket_open(live, game.slug, other)
        await in_thread(game.viewers.remove, goes)
        await until(removed, lambda f: f["type"] == "error")
        frames = await answers(kept, {"type": "ping"})
        await kept.close()
        await removed.close()
        return frames

    assert errors(asyncio.run(scenario())) == []


@pytest.mark.parametrize("how", ["logout", "inactive"])
def test_a_logged_out_or_deactivated_user_can_no_longer_chat_on_an_open_socket(live, how):
    game = game_new()
    user, client, cookie = user_with_session()

    def rights_lose():
        if how == "logout":
            assert client.post("/accounts/logout/").status_code == 302
        else:
            User.objects.filter(pk=user.pk).update(is_active=False)

    async def scenario():
        ws = await socket_open(live, game.slug, cookie)
        before = await answers(ws, {"type": "chat", "text": "before"})
        await in_thread(rights_lose)
        after = await answers(ws, {"type": "chat", "text": "after"})
        await ws.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert errors(before) == []
    assert errors(after) == ["login_required"]
    assert list(ChatMessage.objects.filter(game=game).values_list("text", flat=True)) == ["before"]


def test_staff_who_lost_is_staff_can_no_longer_delete_or_mute(live):
    game = game_new()
    staff, _, cookie = user_with_session(staff=True)
    author, _, _ = user_with_session()
    message = ChatMessage.objects.create(game=game, user=author, text="hello")

    async def scenario():
        ws = await socket_open(live, game.slug, cookie)
        await in_thread(lambda: User.objects.filter(pk=staff.pk).update(is_staff=False))
        deleted = await answers(ws, {"type": "chat_delete", "id": message.pk})
        muted = await answers(ws, {"type": "chat_mute", "user": author.username, "muted": True})
        await ws.close()
        return deleted, muted

    deleted, muted = asyncio.run(scenario())
    assert errors(deleted) == ["forbidden"] and errors(muted) == ["forbidden"]
    message.refresh_from_db()
    assert message.deleted_at is None


@pytest.mark.parametrize("how", ["logout", "inactive", "staff_lost"])
def test_a_private_game_socket_is_closed_when_its_user_loses_the_game(live, how):
    """Told at once (the signal's rights message), with no chat action needed."""
    game = game_new(private=True)
    user, client, cookie = user_with_session(staff=how == "staff_lost")
    if how != "staff_lost":
        game.viewers.add(user)

    def rights_lose():
        if how == "logout":
            assert client.post("/accounts/logout/").status_code == 302
        else:
            fresh = User.objects.get(pk=user.pk)
            fresh.is_active = fresh.is_active and how != "inactive"
            fresh.is_staff = False
            fresh.save()

    async def scenario():
        ws = await socket_open(live, game.slug, cookie)
        await in_thread(rights_lose)
        try:
            frames = await until(ws, lambda f: f["type"] == "error")
            await asyncio.wait_for(ws.wait_closed(), 10)
        finally:
            await ws.close()
        return frames[-1]["code"], ws.close_code

    assert asyncio.run(scenario()) == ("forbidden", 4403)


@pytest.mark.parametrize("how", ["staff_lost", "viewer_removed"])
def test_a_lobby_socket_is_sent_the_games_its_user_may_still_see(live, how):
    """Before, a lobby socket kept listing (and pushing the totals of) private games its user
    had lost: nothing came when the rights changed."""
    game = game_new(private=True)
    user, _, cookie = user_with_session(staff=how == "staff_lost")
    if how == "viewer_removed":
        game.viewers.add(user)

    def rights_lose():
        if how == "viewer_removed":
            game.viewers.remove(user)
        else:
            fresh = User.objects.get(pk=user.pk)
            fresh.is_staff = False
            fresh.save()

    async def scenario():
        url = f"ws://127.0.0.1:{live.port}/ws/lobby/"
        async with websockets.connect(url, origin=origin_of(url), additional_headers={"Cookie": cookie}) as ws:
            first = (await until(ws, lambda f: f["type"] == "games"))[-1]
            await in_thread(rights_lose)
            again = (await until(ws, lambda f: f["type"] == "games"))[-1]
        return [g["slug"] for g in first["games"]], [g["slug"] for g in again["games"]]

    first, again = asyncio.run(scenario())
    assert game.slug in first and game.slug not in again


async def test_a_process_follows_the_rights_group_only_while_a_logged_in_socket_is_open(game):
    from stats.live.hub import hub_get
    from stats.live.rights import RIGHTS_GROUP
    from stats.tests.live_support import user_cookie, watch

    _, cookie = await user_cookie()
    anonymous, _ = await watch(game)
    assert RIGHTS_GROUP not in hub_get().feeds
    first, _ = await watch(game, cookie)
    second, _ = await watch(game, cookie)
    assert list(hub_get().feeds[RIGHTS_GROUP].viewers) != []
    await first.disconnect()
    assert RIGHTS_GROUP in hub_get().feeds
    await second.disconnect()
    assert RIGHTS_GROUP not in hub_get().feeds  # no feed left behind
    await anonymous.disconnect()

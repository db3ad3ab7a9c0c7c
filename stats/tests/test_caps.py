"""Issue #10, sockets: caps on the WebSockets one address or one logged-in user holds open
(stats.ratelimit.ConnectionCaps), and the client address they count by."""

import asyncio
import contextlib
import json
import logging

import pytest
import websockets
from django.test import Client

from stats import ratelimit
from stats.tests.chaos import origin_of
from stats.tests.support import DaphneProc, tracebacks_report, web_proc_running


@pytest.fixture
def caps(settings):
    settings.WS_MAX_PER_ADDRESS = 3
    settings.WS_MAX_PER_USER = 2
    return ratelimit.ConnectionCaps()


def test_sockets_over_the_address_cap_are_refused_until_one_closes(caps):
    assert [caps.take(address="192.0.2.1", user_id=None) for _ in range(4)] == [None, None, None, "address"]
    assert caps.take(address="192.0.2.2", user_id=None) is None  # another address has its own count
    caps.release(address="192.0.2.1", user_id=None)
    assert caps.take(address="192.0.2.1", user_id=None) is None
    assert caps.take(address="192.0.2.1", user_id=None) == "address"


def test_sockets_over_the_user_cap_are_refused_from_any_address(caps):
    assert caps.take(address="192.0.2.1", user_id=7) is None
    assert caps.take(address="192.0.2.2", user_id=7) is None
    assert caps.take(address="192.0.2.3", user_id=7) == "user"
    assert caps.take(address="192.0.2.3", user_id=8) is None  # another user
    caps.release(address="192.0.2.1", user_id=7)
    assert caps.take(address="192.0.2.3", user_id=7) is None


def test_a_refused_socket_counts_for_nothing(caps):
    caps.take(address="192.0.2.1", user_id=7)
    caps.take(address="192.0.2.1", user_id=7)
    assert caps.take(address="192.0.2.1", user_id=7) == "user"  # not counted on the address either
    assert caps.take(address="192.0.2.1", user_id=None) is None
    assert caps.by_address == {"192.0.2.1": 3} and caps.by_user == {7: 2}


def test_counts_at_zero_are_dropped_and_a_cap_of_zero_is_none(caps, settings):
    caps.take(address="192.0.2.1", user_id=7)
    caps.release(address="192.0.2.1", user_id=7)
    assert (caps.by_address, caps.by_user) == ({}, {})
    settings.WS_MAX_PER_ADDRESS = 0
    assert {caps.take(address="192.0.2.1", user_id=None) for _ in range(10)} == {None}


def test_refusals_are_one_warning_per_address_not_a_traceback(caps, caplog):
    for _ in range(3):
        caps.take(address="192.0.2.1", user_id=None)
    with caplog.at_level(logging.WARNING, logger="stats.ratelimit"):
        for _ in range(5):
            assert caps.take(address="192.0.2.1", user_id=None) == "address"
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("WARNING", None)]
    assert "192.0.2.1" in caplog.records[0].getMessage() and "WS_MAX_PER_ADDRESS" in caplog.records[0].getMessage()


def test_an_admission_releases_once_however_often_it_is_told(settings):
    settings.WS_MAX_PER_ADDRESS = 1
    scope = {"client": ["192.0.2.50", 5000], "headers": [], "user": None}
    admitted = ratelimit.SocketAdmission(scope)
    refused = ratelimit.SocketAdmission(scope)
    assert (admitted.refused, refused.refused) == (None, "address")
    assert "address" in refused.message
    for _ in range(3):
        refused.release()  # held nothing: frees nothing
        admitted.release()
    assert "192.0.2.50" not in ratelimit.ws_caps.by_address
    assert ratelimit.SocketAdmission(scope).refused is None
    ratelimit.ws_caps.release(address="192.0.2.50", user_id=None)


@pytest.mark.parametrize(
    ("peer", "forwarded", "behind_proxy", "expected"),
    [
        ("192.0.2.1", "198.51.100.9", False, "192.0.2.1"),  # without a proxy the header is the client's word
        ("10.0.0.2", "198.51.100.9", True, "198.51.100.9"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.9", True, "198.51.100.9"),  # the last hop: what our proxy saw
        ("10.0.0.2", None, True, "10.0.0.2"),  # no header: the peer
        ("10.0.0.2", " , ", True, "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", None, False, "2001:db8:1:2::/64"),  # IPv6 counts per /64
        ("::ffff:192.0.2.7", None, False, "192.0.2.7"),
        (None, None, False, "unknown"),
    ],
)
def test_address_pick(settings, peer, forwarded, behind_proxy, expected):
    settings.BEHIND_PROXY = behind_proxy
    assert ratelimit.address_pick(peer=peer, forwarded=forwarded) == expected


def test_scope_address_joins_repeated_forwarded_headers(settings):
    settings.BEHIND_PROXY = True
    headers = [(b"x-forwarded-for", b"6.6.6.6"), (b"host", b"x"), (b"x-forwarded-for", b"198.51.100.9")]
    assert ratelimit.scope_address({"client": ["10.0.0.2", 1], "headers": headers}) == "198.51.100.9"
    assert ratelimit.scope_address({"client": None, "headers": []}) == "unknown"


# --- over a real daphne ----------------------------------------------------------------------

PER_ADDRESS, PER_USER = 4, 2


class CappedDaphne(DaphneProc):
    """daphne with small caps, so that a test opens a handful of sockets, not fifty."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "WS_MAX_PER_ADDRESS": str(PER_ADDRESS), "WS_MAX_PER_USER": str(PER_USER)}


@pytest.fixture
def capped(django_db_setup, django_db_blocker, valkey):
    # One per test, not per module: the caps' counts and their one-warning-per-address-per-10-s
    # memory live in the daphne process, and a test must not start with another's.
    with web_proc_running(CappedDaphne, django_db_blocker, valkey) as server:
        yield server


async def opening(ws) -> tuple[str, list[dict]]:
    """Read a new socket until it is served (a snapshot) or closed: ("open"|close code, frames)."""
    frames = []
    try:
        async for message in ws:
            frames.append(json.loads(message))
            if frames[-1]["type"] == "snapshot":
                return "open", frames
    except websockets.ConnectionClosed:
        pass
    return ws.close_code, frames


async def sockets_open(url: str, count: int, stack: contextlib.AsyncExitStack, **headers) -> list:
    opened = []
    for _ in range(count):
        ws = await stack.enter_async_context(websockets.connect(url, origin=origin_of(url), additional_headers=headers))
        assert (await opening(ws))[0] == "open"
        opened.append(ws)
    return opened


async def refused(url: str, **headers) -> tuple:
    async with websockets.connect(url, origin=origin_of(url), additional_headers=headers) as ws:
        return await opening(ws)


async def admitted_again(url: str) -> None:
    """Once a socket has closed, a new one gets in (the server releases its count)."""
    for _ in range(200):
        if (await refused(url))[0] == "open":
            return
        await asyncio.sleep(0.1)  # the close may not have reached the server yet: try again
    raise AssertionError("no socket was admitted again within 20 s of one closing")


def test_daphne_refuses_the_socket_over_the_address_cap_with_4430(capped, transactional_db, game):
    url = f"ws://127.0.0.1:{capped.port}/ws/games/{game.slug}/"
    log_start = len(capped.log())

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            held = await sockets_open(url, PER_ADDRESS, stack)
            over = await refused(url)
            await held[0].close()
            await admitted_again(url)
            return over

    code, frames = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert code == ratelimit.WS_CLOSE_OVER_CAP == 4430
    assert [(f["type"], f.get("code")) for f in frames] == [("error", "too_many_connections")]
    log = capped.log()[log_start:]
    assert "WS_MAX_PER_ADDRESS" in log
    assert "Traceback" not in log, tracebacks_report(log)


def test_daphne_refuses_the_socket_over_the_user_cap_but_not_the_address(
    capped, transactional_db, game, django_user_model
):
    user = django_user_model.objects.create_user("cap-viewer", password="pw-cap-viewer-1")
    browser = Client()
    browser.force_login(user)
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    url = f"ws://127.0.0.1:{capped.port}/ws/games/{game.slug}/"

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            await sockets_open(url, PER_USER, stack, **cookie)
            over = await refused(url, **cookie)
            anonymous = await refused(url)  # the address has room left: only the user is full
            return over, anonymous[0]

    (code, frames), anonymous = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert code == 4430
    assert frames[0]["code"] == "too_many_connections" and "user" in frames[0]["message"]
    assert anonymous == "open"


async def test_a_refused_socket_is_told_why_and_closed_with_4430(settings):
    settings.WS_MAX_PER_ADDRESS = 2
    scope = {"client": ["192.0.2.60", 1], "headers": [], "user": None}
    held = [ratelimit.SocketAdmission(scope) for _ in range(settings.WS_MAX_PER_ADDRESS)]
    over = ratelimit.SocketAdmission(scope)
    incoming = asyncio.Queue()
    incoming.put_nowait({"type": "websocket.connect"})
    sent = []

    async def send(message):
        sent.append(message)

    await ratelimit.socket_refuse(over, incoming.get, send)
    for admission in held:
        admission.release()
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert json.loads(sent[1]["text"])["code"] == "too_many_connections"
    assert sent[2]["code"] == 4430

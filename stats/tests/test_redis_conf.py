"""webgame.redis_conf: REDIS_URL alone configures every Redis user exactly as before; with
REDIS_SENTINELS, the channel layer, Celery, the rate limits, presence and /readyz all reach
the primary the sentinels name (a real primary, replica and sentinel from deploy/sentinel/).
The failover itself is `make chaos`'s (stats/tests/test_sentinel.py)."""

import asyncio
import json
import os
import subprocess
import sys

import pytest
import redis
from channels_redis.pubsub import RedisPubSubChannelLayer

from stats import ratelimit
from stats.live import presence
from stats.ops import views
from stats.tests.sentinels import MASTER, SentinelSetup
from stats.tests.support import ROOT, free_port
from webgame import redis_conf

URL = "redis://127.0.0.1:6390/0"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("a:1,b:2,c:3", (("a", 1), ("b", 2), ("c", 3))),
        (" a:1 , b ,", (("a", 1), ("b", 26379))),  # Sentinel's own port by default
        ("[::1]:26380,[fd00::2]", (("::1", 26380), ("fd00::2", 26379))),
        (["10.0.0.1:5000"], (("10.0.0.1", 5000),)),  # env.list's form
        ("", ()),
    ],
)
def test_sentinels_parse(value, parsed):
    assert redis_conf.sentinels_parse(value) == parsed


@pytest.mark.parametrize("value", ["a:x", "a:0", "a:70000", ":26379", "[::1]:x"])
def test_a_bad_sentinel_entry_is_named(value):
    with pytest.raises(ValueError, match="REDIS_SENTINELS"):
        redis_conf.sentinels_parse(value)


def test_without_sentinels_every_user_gets_redis_url_as_before():
    where = redis_conf.target_from(URL)
    assert redis_conf.channel_layer_host(where, socket_connect_timeout=2) == {
        "address": URL,
        "socket_connect_timeout": 2,
    }
    assert redis_conf.celery_broker(where) == (URL, {})
    client = redis_conf.sync_client(where, socket_timeout=0.5)
    assert client.connection_pool.connection_kwargs["port"] == 6390
    assert not isinstance(client.connection_pool, redis.sentinel.SentinelConnectionPool)


def test_with_sentinels_redis_url_gives_only_credentials_and_database():
    where = redis_conf.target_from("redis://user:p%40ss@ignored:1/3", "s1:26379,s2:26380", "games", "sentinel-pw")
    assert where.node_kwargs() == {"db": 3, "username": "user", "password": "p@ss"}
    assert redis_conf.channel_layer_host(where, socket_connect_timeout=2) == {
        "sentinels": [("s1", 26379), ("s2", 26380)],
        "master_name": "games",
        "sentinel_kwargs": {"socket_connect_timeout": 2, "password": "sentinel-pw"},
        "db": 3,
        "username": "user",
        "password": "p@ss",
        "socket_connect_timeout": 2,
    }
    assert redis_conf.celery_broker(where) == (
        "sentinel://user:p%40ss@s1:26379/3;sentinel://user:p%40ss@s2:26380/3",
        {"master_name": "games", "sentinel_kwargs": {"password": "sentinel-pw"}},
    )


def settings_read(**env: str) -> dict:
    """webgame.settings' Redis values under this environment, in a fresh interpreter."""
    code = (
        "import json, webgame.settings as s; print(json.dumps([s.CHANNEL_LAYERS['default']['CONFIG']['hosts'],"
        " s.CELERY_BROKER_URL, getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS', None)]))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "SECRET_KEY": "x" * 50, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    hosts, broker, options = json.loads(done.stdout)
    return {"hosts": hosts, "broker": broker, "options": options}


def test_the_settings_build_the_layer_and_broker_from_one_setting():
    # Every Redis user has the settings' deadlines: the layer's hosts and Celery's broker too.
    deadlines = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
    assert settings_read(REDIS_URL=URL) == {
        "hosts": [{"address": URL, **deadlines}],
        "broker": URL,
        "options": deadlines,
    }
    found = settings_read(REDIS_SENTINELS="127.0.0.1:1,127.0.0.1:2")
    assert found["hosts"][0]["sentinels"] == [["127.0.0.1", 1], ["127.0.0.1", 2]]
    assert found["hosts"][0]["master_name"] == "webgame"
    assert found["broker"] == "sentinel://127.0.0.1:1/0;sentinel://127.0.0.1:2/0"
    assert found["options"] == {"master_name": "webgame", **deadlines}
    # An explicit CELERY_BROKER_URL still wins, and gets no sentinel options.
    assert settings_read(REDIS_SENTINELS="h:1", CELERY_BROKER_URL=URL)["options"] == deadlines
    shorter = settings_read(REDIS_URL=URL, REDIS_CONNECT_TIMEOUT="0.5", REDIS_SOCKET_TIMEOUT="1")
    assert shorter["options"] == {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}
    assert "bad port" in settings_read(REDIS_SENTINELS="h:nope")["error"]


@pytest.fixture(scope="module")
def sentinel_setup(tmp_path_factory):
    """A primary and one sentinel (a failover needs more: see test_sentinel)."""
    setup = SentinelSetup(tmp_path_factory.mktemp("sentinel"), count=1, replicas=0).start()
    yield setup
    setup.stop()


@pytest.fixture
def via_sentinel(settings, sentinel_setup, monkeypatch):
    """This process's settings pointed at the sentinel only: REDIS_URL names nothing."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_SENTINELS = sentinel_setup.addresses.split(",")
    settings.REDIS_SENTINEL_MASTER = MASTER
    for module, name in ((ratelimit, "_clients"), (presence, "_clients"), (views, "_redis_clients")):
        monkeypatch.setattr(module, name, {})
    primary = sentinel_setup.primary.client()
    primary.flushdb()
    return primary


def test_the_rate_limits_and_readyz_reach_the_primary_through_the_sentinel(via_sentinel):
    assert ratelimit.chat_retry_after(user_id=7) is None
    assert [int(via_sentinel.get(k)) for k in via_sentinel.scan_iter("webgame:ratelimit:chat:7:*")] == [1]
    assert views.redis_check() is None


async def test_presence_reaches_the_primary_through_the_sentinel(via_sentinel):
    assert await presence.presence_join(game_id=900_041, channel="a") == 1
    assert await presence.presence_count(game_id=900_041) == 1
    assert via_sentinel.zcard("webgame:presence:900041") == 1
    await presence._client().aclose()


async def test_the_channel_layer_publishes_and_subscribes_through_the_sentinel(sentinel_setup):
    where = redis_conf.target_from(URL, sentinel_setup.addresses, MASTER)
    layer = RedisPubSubChannelLayer(hosts=[redis_conf.channel_layer_host(where, socket_connect_timeout=2)])
    try:
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        await layer.group_send("g", {"type": "hello"})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "hello"}
        assert sentinel_setup.primary.client().pubsub_numsub("asgi__group__g")[0][1] == 1
    finally:
        await layer.flush()


def test_readyz_names_a_missing_primary_without_waiting(settings, monkeypatch):
    settings.REDIS_SENTINELS = [f"127.0.0.1:{free_port()}"]  # no sentinel there
    monkeypatch.setattr(views, "_redis_clients", {})
    failure = views.redis_check()
    assert type(failure).__name__ == "MasterNotFoundError", failure
    assert str(failure).startswith("No master found for 'webgame'")

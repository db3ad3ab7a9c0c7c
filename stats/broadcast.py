"""The one place that pushes to the channel layer.

Frames are encoded to JSON once per publish (not once per viewer) and carried through the
layer as text with their seq range, so each consumer can forward them untouched. The layer is
lossy by design: a failed push is logged once per outage and clients recover by seq.
"""

import asyncio
import json
import logging
import threading

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash
from django.conf import settings

from stats.eventlog import LogRow
from stats.models import Game, Player
from stats.wire import event_wire, game_wire, player_wire

logger = logging.getLogger(__name__)
LOBBY_GROUP = "lobby"


def game_group(slug: str) -> str:
    return f"game.{slug}"


def frame_encode(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class _Outage:
    """Logs the first failure of an outage and the recovery, not one traceback per message."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            logger.error(
                "channel layer unreachable (%s: %s); live pushes paused, clients resync by seq", type(exc).__name__, exc
            )

    def ok(self) -> None:
        if self._down:
            with self._lock:
                self._down = False
            logger.warning("channel layer reachable again; live pushes resumed")


outage = _Outage()


def game_events_messages(*, game: Game, events: list[LogRow], players: list[Player]) -> list[tuple[str, dict]]:
    """The (group, message) pairs announcing new events, built from exactly what the
    service wrote (stats.receivers calls this once the transaction has committed)."""
    names = {p.pk: p.name for p in players}
    events_text = frame_encode([event_wire(e, names[e.player_id]) for e in events])
    wire = game_wire(game)
    message = events_message(
        events_text=events_text,
        players=[player_wire(p) for p in players],
        game=wire,
        seqs=(events[0].seq, events[-1].seq),
    )
    lobby = {"type": "game", "game": wire}
    return [
        (game_group(game.slug), message),
        (
            LOBBY_GROUP,
            {"type": "lobby.game", "slug": game.slug, "is_public": game.is_public, "text": frame_encode(lobby)},
        ),
    ]


def events_message(*, events_text: str, players: list[dict], game: dict, seqs: tuple[int, int]) -> dict:
    """A game group's message for a run of events (`seqs`: the first and last seq). The parts
    travel beside the whole frame so that stats.fanout can join a burst of messages into one
    frame without decoding the events again."""
    text = f'{{"type":"events","events":{events_text},"players":{frame_encode(players)},"game":{frame_encode(game)}}}'
    return {
        "type": "game.events",
        "first_seq": seqs[0],
        "last_seq": seqs[1],
        "text": text,
        "events": events_text,
        "players": players,
        "game": game,
    }


_server_loop: asyncio.AbstractEventLoop | None = None


def server_loop_set(loop: asyncio.AbstractEventLoop) -> None:
    """The web server's event loop (webgame.handler registers it): sync code in its threads
    hands pushes to it instead of waiting for Redis."""
    global _server_loop
    _server_loop = loop


def messages_send(messages: list[tuple[str, dict]]) -> None:
    """Push from sync code (views, services' on_commit hooks, Celery tasks).

    In a web process the push is handed to the server's event loop and this returns at once,
    so the POST does not wait for Redis' reply (the publish was ~13% of a web process's
    samples at 1,000 viewers x 200 events/s, py-spy). Elsewhere (a Celery worker, a shell)
    it publishes before returning."""
    loop = _server_loop
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(messages_send_async(messages), loop)
        return
    layer = get_channel_layer()
    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", [])
    if isinstance(layer, RedisPubSubChannelLayer) and all(isinstance(h, str) or "address" in h for h in hosts):
        return _pubsub_publish(layer, messages)
    async_to_sync(messages_send_async)(messages)


_publishers: dict[str, redis.Redis] = {}
_publishers_lock = threading.Lock()


def _pubsub_publish(layer: RedisPubSubChannelLayer, messages: list[tuple[str, dict]]) -> None:
    """A group_send on the pub/sub layer is one PUBLISH; from sync code, doing it with a sync
    client skips a hop to an event loop (and, in a Celery worker, a new loop and connection
    per call). The channel name and the payload are the layer's own (channels_redis 4.x)."""
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    hosts = [h if isinstance(h, dict) else {"address": h} for h in config["hosts"]]
    prefix = config.get("prefix", "asgi")
    try:
        # One pipeline per shard: the game's frame and the lobby's in one round trip.
        pipes: dict[str, redis.client.Pipeline] = {}
        for group, message in messages:
            name = f"{prefix}__group__{group}"
            address = hosts[_consistent_hash(name, len(hosts))]["address"]
            if address not in pipes:
                pipes[address] = _publisher(address).pipeline(transaction=False)
            pipes[address].publish(name, layer.serialize(message))
        for pipe in pipes.values():
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - any layer failure: the DB has it, clients resync
        outage.failed(exc)
    else:
        outage.ok()


def _publisher(address: str) -> redis.Redis:
    client = _publishers.get(address)
    if client is None:
        # Under the lock: two web threads making one each at the first publish, the loser's
        # client was collected and closed its pool under the other's pipeline ("I/O operation
        # on closed file": those events never reached the viewers live).
        with _publishers_lock:
            client = _publishers.get(address)
            if client is None:
                client = _publishers[address] = redis.Redis.from_url(
                    address, socket_connect_timeout=2, socket_timeout=2
                )
    return client


async def messages_send_async(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    try:
        for group, message in messages:
            await layer.group_send(group, message)
    except Exception as exc:  # noqa: BLE001 - any layer failure: the DB has the event, clients resync by seq
        outage.failed(exc)
    else:
        outage.ok()


async def presence_publish(*, slug: str, viewers: int) -> None:
    frame = frame_encode({"type": "presence", "viewers": viewers})
    await messages_send_async([(game_group(slug), {"type": "game.presence", "text": frame})])

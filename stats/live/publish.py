"""Step 1 of the live path: push frames into channel-layer groups (a game's, the lobby's,
the rights group), once the transaction that wrote what they announce has committed.

`publish_on_commit` is the one way in. Its only callers are the receivers of the domain
signals (stats.signals -> stats.receivers): new events (and the lobby's totals), chat
messages and their deletion, a match's start and end, a viewer count, a change of rights.
So every write (the API, the ingest socket, the admin, the staff page, Celery's simulator)
pushes the same way, after commit and only if it commits. The other functions here build
the (group, message) pairs.

The events are encoded to JSON here, once per publish, and carried through the layer with
the frame's other parts and its seq range, each once (see `events_message`), so each
process's feed can build the frame or join a burst into one frame without decoding anything.
The layer is lossy by design: a failed push is logged once per outage, and clients recover
by seq.

Only the public API of the channel layer is used (group_send). Sync code (web threads,
Celery) publishes on an event loop: the web server's, registered through the one seam
`server_loop_register` (webgame.handler calls it), so a POST does not wait for Redis;
elsewhere (a Celery worker, a shell), on a loop of its own via async_to_sync.
"""

import asyncio
import logging
import threading
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from stats.eventlog import LogRow
from stats.live import frames, health
from stats.models import Game, Player
from stats.ops import metrics
from stats.scoring.record import Scored
from stats.scoring.wire import match_wire
from stats.wire import TimesMemo, event_wire, game_wire, player_wire

logger = logging.getLogger(__name__)
LOBBY_GROUP = "lobby"


def game_group(game_id: int) -> str:
    # By id, not slug: a game deleted and made again under its slug is another game, and its
    # viewers must never get the old one's frames (a late push, a feed still running).
    return f"game.{game_id}"


class _Outage:
    """Logs the first failure of an outage and the recovery, not one traceback per message."""

    def __init__(self) -> None:
        self._down = False
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        metrics.channel_layer_failed()
        with self._lock:
            first, self._down = not self._down, True
        if first:
            logger.error(
                "channel layer unreachable (%s: %s); live pushes paused, clients resync by seq", type(exc).__name__, exc
            )

    def ok(self) -> None:
        if self._down:
            metrics.channel_layer_ok()
            with self._lock:
                self._down = False
            logger.warning("channel layer reachable again; live pushes resumed")


outage = _Outage()


def publish_on_commit(build: Callable[[], list[tuple[str, dict]]]) -> asyncio.Task | None:
    """The one way to publish: send the (group, message) pairs `build()` returns once (and
    only if) the transaction commits. Only the receivers of stats.signals call it.

    Built after the commit: the game's row lock is released by then, so the next writer
    need not wait for the JSON of a 1,000-event batch (~9 ms). What they are built from (the
    rows, players and counters the service wrote) is not touched after the write.

    Called on an event loop (a socket's presence count: no transaction there, and Django's
    transaction API may not run on a loop), it sends at once in a task, returned: the caller
    awaits it (stats.receivers.viewers_broadcast), so no module-level set keeps it alive."""
    # In a coroutine, not merely on a thread whose loop runs (sync code under a test's
    # Playwright loop is that: it keeps the on-commit path, see messages_send).
    if _in_coroutine():
        return asyncio.get_running_loop().create_task(messages_send_async(build()))  # the caller awaits it

    # A named function, not a partial: robust=True logs failures by the callback's __qualname__.
    def send_committed() -> None:
        messages_send(build())

    transaction.on_commit(send_committed, robust=True)
    return None


def chat_messages(*, game: Game, frame: dict) -> list[tuple[str, dict]]:
    """A chat frame (a message, or its deletion) for the game's viewers. The feed hands chat
    out off the events' path (stats.live.fanout), so chat never delays stats."""
    return [(game_group(game.pk), {"type": "game.chat", "text": frames.json_compact(frame)})]


def match_messages(*, game: Game, match, teams: list[dict]) -> list[tuple[str, dict]]:
    """A match started or ended. Not in seq order: a viewer that misses it sees the match in
    its next snapshot."""
    text = frames.json_compact(frames.match_frame(match_wire(match, teams)))
    return [(game_group(game.pk), {"type": "game.match", "text": text})]


def presence_messages(*, game_id: int, viewers: int) -> list[tuple[str, dict]]:
    return [(game_group(game_id), {"type": "game.presence", "text": frames.presence_text(viewers)})]


def game_events_messages(
    *, game: Game, events: list[LogRow], players: list[Player], scored: Scored
) -> list[tuple[str, dict]]:
    """The (group, message) pairs announcing new events, built from what the service wrote."""
    names = {p.pk: p.name for p in players}
    teams = {names[e.player_id]: e.team for e in events if e.match_id == game.open_match_id}
    times = TimesMemo()
    events_json = frames.json_compact(
        [event_wire(e, names[e.player_id], scored.matches.get(e.match_id), times) for e in events]
    )
    wire = game_wire(game)
    message = events_message(
        events_json=events_json,
        players=[player_wire(p, scored.players.get(p.name), teams.get(p.name, "")) for p in players],
        game=wire,
        seqs=(events[0].seq, events[-1].seq),
        teams=scored.teams,
    )
    return [(game_group(game.pk), message), *lobby_messages(game=game, wire=wire)]


def lobby_messages(*, game: Game, wire: dict | None = None) -> list[tuple[str, dict]]:
    """The lobby's message with a game's totals (a `game` frame): sent with each run of
    events, and when a game is made."""
    text = frames.lobby_game_text(wire or game_wire(game))
    return [(LOBBY_GROUP, {"type": "lobby.game", "game_id": game.pk, "is_public": game.is_public, "text": text})]


def events_message(
    *, events_json: str, players: list[dict], game: dict, seqs: tuple[int, int], teams: list[dict] | None = None
) -> dict:
    """A game group's message for a run of events (`seqs`: the first and last seq): the
    frame's parts, carried once; each process's fan-out builds the frame's text from them
    (stats.live.cut.message_text), or joins several runs into one frame."""
    return {
        "type": "game.events",
        "first_seq": seqs[0],
        "last_seq": seqs[1],
        "events": events_json,
        "players": players,
        "game": game,
        "teams": teams or [],
    }


_server_loop: asyncio.AbstractEventLoop | None = None


def server_loop_register(loop: asyncio.AbstractEventLoop) -> None:
    """The seam: the web server's event loop, registered by webgame.handler when it starts
    serving. Sync code in its threads then hands pushes to it and returns at once."""
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    """The web server's running event loop, if this process serves (see server_loop_register)."""
    loop = _server_loop
    return loop if loop is not None and loop.is_running() else None


def messages_send(messages: list[tuple[str, dict]]) -> None:
    """Push from sync code. In a web process the push is handed to the server's loop and
    this returns at once (the publish was ~13% of a web process's samples at 1,000 viewers x
    200 events/s); elsewhere it is published before this returns."""
    loop = _server_loop
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(messages_send_async(messages), loop)
        return
    if _loop_running_here():
        # Sync code on a thread whose event loop runs (a test driving Playwright), where
        # async_to_sync refuses to run: a short thread of its own publishes. Rare (never in a
        # server, whose loop is registered above).
        threading.Thread(target=async_to_sync(messages_send_async), args=(messages,), name="publish").start()
        return
    async_to_sync(messages_send_async)(messages)


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _in_coroutine() -> bool:
    return _loop_running_here() and asyncio.current_task() is not None


async def messages_send_async(messages: list[tuple[str, dict]]) -> None:
    if health.redis_down():
        # This process's check found Redis not answering: a push now could only wait for its
        # deadline, and pile up behind the others. Dropped; viewers catch up by seq.
        metrics.channel_layer_failed()
        return
    layer = get_channel_layer()
    try:
        for group, message in messages:
            await layer.group_send(group, message)
    except Exception as exc:  # noqa: BLE001 - any layer failure: the DB has the event, clients resync by seq
        outage.failed(exc)
    else:
        outage.ok()

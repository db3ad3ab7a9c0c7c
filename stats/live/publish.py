"""Step 1 of the live path: push a game's new events into its channel-layer group, once the
transaction that wrote them has committed.

`events_publish_on_commit` is the one way in. Its only caller is the receiver of the write
service's signal (stats.receivers), so every write (the API, the admin, the staff page,
Celery's simulator) pushes the same way, after commit and only if it commits.

The frame is encoded to JSON here, once per publish, and carried through the layer beside
its parts and its seq range (see `events_message`), so each process's feed can forward it or
join a burst into one frame without decoding anything. The layer is lossy by design: a
failed push is logged once per outage, and clients recover by seq.

Only the public API of the channel layer is used (group_send). Sync code (web threads,
Celery) publishes on an event loop: the web server's, registered through the one seam
`server_loop_register` (webgame.handler calls it), so a POST does not wait for Redis;
elsewhere (a Celery worker, a shell), on a loop of its own via async_to_sync.
"""

import asyncio
import logging
import threading

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


def game_group(slug: str) -> str:
    return f"game.{slug}"  # one group per game, named from the slug in the URL


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


def events_publish_on_commit(*, game: Game, events: list[LogRow], players: list[Player], scored: Scored) -> None:
    """Push these events to the game's viewers once (and only if) the transaction commits.

    Encoded after the commit: the game's row lock is released by then, so the next writer
    need not wait for the JSON of a 1,000-event batch (~9 ms). What they are built from (the
    rows, players and counters the service wrote) is not touched after the write."""

    # A named function, not a partial: robust=True logs failures by the callback's __qualname__.
    def send_committed() -> None:
        messages_send(game_events_messages(game=game, events=events, players=players, scored=scored))

    transaction.on_commit(send_committed, robust=True)


def chat_publish_on_commit(*, game: Game, frame: dict) -> None:
    """Push a chat frame (a message, or its deletion) to the game's viewers after commit. The
    feed hands chat out off the events' path (stats.live.fanout), so chat never delays stats."""

    def send_committed() -> None:
        messages_send([(game_group(game.slug), {"type": "game.chat", "text": frames.json_compact(frame)})])

    transaction.on_commit(send_committed, robust=True)


def match_publish_on_commit(*, game: Game, match, teams: list[dict]) -> None:
    """Tell the game's viewers a match started or ended, after commit. Not in seq order: a
    viewer that misses it sees the match in its next snapshot."""
    text = frames.json_compact(frames.match_frame(match_wire(match, teams)))

    def send_committed() -> None:
        messages_send([(game_group(game.slug), {"type": "game.match", "text": text})])

    transaction.on_commit(send_committed, robust=True)


def lobby_message(game: Game) -> tuple[str, dict]:
    """The lobby group's message with a game's totals (a `game` frame): sent with each run of
    events, and when a game is made."""
    text = frames.lobby_game_text(game_wire(game))
    return LOBBY_GROUP, {"type": "lobby.game", "slug": game.slug, "is_public": game.is_public, "text": text}


def lobby_game_publish_on_commit(*, game: Game) -> None:
    """Show a new game in open lobbies once (and only if) its creation commits. Sent from a
    thread of its own: a game is made rarely, and from anywhere, also from a thread that runs an
    event loop (a test driving a browser), where async_to_sync refuses to run."""
    message = lobby_message(game)

    def send_committed() -> None:
        threading.Thread(target=messages_send, args=([message],), name="lobby-game-created").start()

    transaction.on_commit(send_committed, robust=True)


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
    return [(game_group(game.slug), message), lobby_message(game)]


def events_message(
    *, events_json: str, players: list[dict], game: dict, seqs: tuple[int, int], teams: list[dict] | None = None
) -> dict:
    """A game group's message for a run of events (`seqs`: the first and last seq)."""
    return {
        "type": "game.events",
        "first_seq": seqs[0],
        "last_seq": seqs[1],
        "text": frames.events_text(events_json=events_json, players=players, game=game, teams=teams),
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
    async_to_sync(messages_send_async)(messages)


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


async def presence_publish(*, slug: str, viewers: int) -> None:
    await messages_send_async([(game_group(slug), {"type": "game.presence", "text": frames.presence_text(viewers)})])

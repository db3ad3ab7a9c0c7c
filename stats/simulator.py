"""The demo match: two teams trading kills in the demo games, one match after another, so a
new user sees motion (and every kind of stat) at once.

`events_simulate` is pure: a burst fully determined by its seed. `demo_match_current` keeps
the match lifecycle (which match is open, when it ends, which starts next), through the
scoring services. `demo_play` is the demo's game server: it streams a burst to the web
process through the Python client (clients/python), as any game server would."""

import hashlib
import logging
import random
import re
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from webgame_client import Client

from stats.models import ApiKey, Game
from stats.schemas import EventIn
from stats.scoring import services as scoring
from stats.scoring.models import Match, Stat
from stats.services import api_key_hash

log = logging.getLogger(__name__)

TEAMS = {"Red": ["ada", "barbara", "dennis", "ken"], "Blue": ["grace", "linus", "margaret", "alan"]}
TEAM_OF = {player: team for team, players in TEAMS.items() for player in players}
FOES = {team: [p for other, players in TEAMS.items() if other != team for p in players] for team in TEAMS}
# Some players are better than others, so the leaderboard has a shape; the teams are close.
ROSTER = ["ada", "grace", "linus", "margaret", "alan", "barbara", "dennis", "ken"]
SKILL = [1.0 / (i + 1) for i in range(len(ROSTER))]
KILL_POINTS, ASSIST_POINTS = 100, 50
ASSIST_CHANCE = 0.4
# A kill is mostly one victim; now and then a double or a triple.
VICTIMS, VICTIM_WEIGHTS = [1, 2, 3], [0.8, 0.15, 0.05]

# The demo games' stats (points are built in). Deaths: lower is better.
DEMO_STATS = [
    {"name": "kills", "label": "Kills"},
    {"name": "deaths", "label": "Deaths", "order": Stat.Order.ASC},
    {"name": "assists", "label": "Assists"},
    {"name": "best_streak", "label": "Best streak", "op": Stat.Op.BEST},
    {"name": "kd", "label": "K/D", "format": Stat.Format.RATIO, "numerator": "kills", "denominator": "deaths"},
]
MATCH_ID = re.compile(r"demo-([1-9][0-9]{0,17})")


def events_simulate(*, seed: str, max_plays: int = 3) -> list[EventIn]:
    """A burst of 1 to `max_plays` plays, fully determined by `seed`: a retried task re-posts
    the very same events (same ids, same content), which the service recognises as duplicates.

    A play is a kill: the killer's "kill" event is followed at once by the victim's "death"
    (a player of the other team), then perhaps a teammate's "assist". Every event names its
    team and carries its stats. `best_streak` is the killer's kills without dying in the burst.
    Events name no match: they fall into the game's open match, so a retry that comes after
    the match changed is still the same content."""
    rng = random.Random(seed)
    prefix = f"sim-{seed}" if len(seed) <= 48 else f"sim-{hashlib.sha256(seed.encode()).hexdigest()[:40]}"
    events: list[EventIn] = []
    streaks: dict[str, int] = {}

    def add(player: str, kind: str, points: int, stats: dict[str, int]) -> None:
        event_id = f"{prefix}-{len(events)}"
        events.append(EventIn(id=event_id, player=player, team=TEAM_OF[player], kind=kind, points=points, stats=stats))

    for _ in range(rng.randint(1, max_plays)):
        killer = rng.choices(ROSTER, SKILL)[0]
        team = TEAM_OF[killer]
        for victim in rng.sample(FOES[team], rng.choices(VICTIMS, VICTIM_WEIGHTS)[0]):
            streaks[killer] = streaks.get(killer, 0) + 1
            streaks[victim] = 0
            add(killer, "kill", KILL_POINTS, {"kills": 1, "best_streak": streaks[killer]})
            add(victim, "death", 0, {"deaths": 1})
        if rng.random() < ASSIST_CHANCE:
            mate = rng.choice([p for p in TEAMS[team] if p != killer])
            add(mate, "assist", ASSIST_POINTS, {"assists": 1})
    return events


def demo_stats_declare(*, game: Game) -> list[tuple[Stat, bool]]:
    """Declare the demo stats in `game` (idempotent). Raises ScoringConflict if one of the
    names exists with another definition."""
    return [scoring.stat_declare(game=game, **stat) for stat in DEMO_STATS]


def demo_match_current(*, game_id: int, now: datetime | None = None) -> Match:
    """The match a demo game plays now. Its open match while it is younger than
    DEMO_MATCH_SECONDS; past that, or with none open, every live match of the game
    that old is ended and the next one, "demo-<n>", is started (with the demo stats declared).

    Ids follow the ended match's number (or the last demo match's), so two runs that decide
    together (a retried or an overlapping task) start the same match: the service answers
    the second start with the match the first made."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.DEMO_MATCH_SECONDS)
    game = Game.objects.select_related("open_match").get(pk=game_id)
    if game.open_match is not None and game.open_match.started_at > cutoff:
        return game.open_match  # the usual case, without a lock
    # Decide under the game's row lock (SQLite: its IMMEDIATE transaction), reading again: two
    # worker processes starting together each started a match (demo-1, then demo-2 from the
    # first's number), and both stayed live.
    with transaction.atomic():
        game = Game.objects.select_for_update().get(pk=game_id)
        return _match_next(game=game, cutoff=cutoff)


def _match_next(*, game: Game, cutoff: datetime) -> Match:
    game_id = game.pk
    current = game.open_match
    if current is not None and current.started_at > cutoff:
        return current
    stale = Match.objects.filter(game_id=game_id, status=Match.Status.LIVE, started_at__lte=cutoff)
    for match_id in stale.values_list("match_id", flat=True):
        scoring.match_end(game_id=game_id, match_id=match_id)
    number = _number(current.match_id if current is not None else None) or _last_number(game_id=game_id)
    demo_stats_declare(game=game)
    match, _ = scoring.match_start(game_id=game_id, match_id=f"demo-{number + 1}", name=f"Match {number + 1}")
    return match


def _number(match_id: str | None) -> int:
    found = MATCH_ID.fullmatch(match_id or "")
    return int(found[1]) if found else 0


def _last_number(*, game_id: int) -> int:
    """The number of the demo match started last (0 for none)."""
    ids = Match.objects.filter(game_id=game_id, match_id__startswith="demo-").order_by("-pk")
    return next((n for n in map(_number, ids.values_list("match_id", flat=True)[:20]) if n), 0)


# The demo's game server. A burst goes to the web process through webgame_client (the ingest
# socket, HTTP when the socket cannot be opened), so the demo takes the API's whole path: the
# key, validation, its rate limit, group commit, the broadcast. The match lifecycle stays on
# the scoring services above: deciding it reads the game's state (its open match and when that
# started, stale live matches, the last demo number), which the worker reads from the database
# anyway, for a change every DEMO_MATCH_SECONDS; over the API it would take a listing
# and a POST per change for the same idempotent outcome (a second start answers the first's
# match). The flush in demo_play keeps the lifecycle and the events in order: a burst is
# stored before the next run may end its match, so every burst lands in the match it was
# played in, as when the worker wrote them itself.

DEMO_KEY_NAME = "demo simulator"
FLUSH_SECONDS = 3.0  # a task waits this long for its acks; unacked events stay buffered
_clients: dict[str, tuple[tuple[str, str], Client]] = {}  # by slug: ((url, key), client)
_clients_lock = threading.Lock()


def demo_key(*, game: Game) -> str | None:
    """The raw API key the simulator posts to `game` with, its row made when missing; None
    when an operator revoked it (the demo then leaves the game alone).

    Only a key's hash is stored, so the raw key is derived from SECRET_KEY and the game: every
    worker process and every restart finds the same key with nothing written to disk, and it is
    as secret as SECRET_KEY (which signs sessions anyway). The game's pk is in it, so a game
    deleted and made again gets a new key, never one a web process still caches for the old."""
    digest = salted_hmac("webgame.demo-key", f"{game.pk}:{game.slug}", algorithm="sha256").hexdigest()
    prefix = digest[:8]  # random keys' prefixes are 8 hex digits too (services.api_key_create)
    raw = f"wg_{prefix}_{digest[8:]}"
    hashed = api_key_hash(raw)
    defaults = {"game": game, "name": DEMO_KEY_NAME, "hashed": hashed}
    key, _ = ApiKey.objects.get_or_create(prefix=prefix, defaults=defaults)
    return raw if (key.game_id, key.hashed, key.revoked) == (game.pk, hashed, False) else None


def demo_client(*, slug: str, key: str) -> Client:
    """This process's client for the demo game `slug`: made once, so that its socket and thread
    outlive a task; made again when the server's URL or the key changed."""
    url = settings.DEMO_SERVER_URL
    with _clients_lock:
        held = _clients.get(slug)
        if held is not None and held[0] == (url, key):
            return held[1]
        client = Client(url, slug, key, close_timeout=2.0)
        _clients[slug] = ((url, key), client)
    if held is not None:
        held[1].close()
    return client


def demo_play(*, game: Game, seed: str) -> int:
    """Play one burst (events_simulate) in `game`'s current match, through the client; the
    number of events sent. The same seed sends the same events with the same ids: a retried
    task's are duplicates for the server."""
    key = demo_key(game=game)
    if key is None:
        return 0
    demo_match_current(game_id=game.pk)
    client = demo_client(slug=game.slug, key=key)
    events = events_simulate(seed=seed)
    for event in events:
        client.send(event.player, event.points, stats=event.stats, team=event.team, kind=event.kind, id=event.id)
    if not client.flush(FLUSH_SECONDS):
        log.warning("demo %s: events not acked within %ss; the client sends them on", game.slug, FLUSH_SECONDS)
    return len(events)

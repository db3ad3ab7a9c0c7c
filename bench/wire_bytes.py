"""`python -m bench.wire_bytes`: the bytes of one game group's `game.events` message on the
channel layer (as the layer serializes it, msgpack), for three shapes of write. Runs on a
throwaway SQLite database; no server, no Redis. Issue #21: each frame carried once."""

import os
import sys
import tempfile

SHAPES = (("1 event, 1 player", 1, 1), ("20 events, 10 players", 20, 10), ("200 events, 50 players", 200, 50))


def _setup() -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/wire.db"
    os.environ.setdefault("DEBUG", "true")  # a throwaway database: no secret to keep
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webgame.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def message_bytes(*, events: int, players: int) -> int:
    from channels.layers import get_channel_layer
    from django.db import transaction

    from stats import services, signals
    from stats.live import publish
    from stats.schemas import EventIn
    from stats.scoring import services as scoring

    publish.publish_on_commit = lambda build: None  # measured, not sent: there is no Redis here
    game = services.game_create(slug=f"wire-{events}-{players}", name="wire")
    scoring.stat_declare(game=game, name="kills")
    scoring.match_start(game_id=game.pk, match_id="m", name="m")
    built: list = []

    def keep(sender, **kwargs) -> None:
        built.extend(publish.game_events_messages(**{k: kwargs[k] for k in ("game", "events", "players", "scored")}))

    signals.score_events_recorded.connect(keep, weak=False, dispatch_uid="wire_bytes")
    batch = [
        EventIn(
            id=f"e{i}", player=f"player{i % players}", points=i % 7, team=("red", "blue")[i % 2], stats={"kills": 1}
        )
        for i in range(events)
    ]
    with transaction.atomic():
        services.score_events_record(game_id=game.pk, events=batch)
    signals.score_events_recorded.disconnect(dispatch_uid="wire_bytes")
    message = next(m for g, m in built if m["type"] == "game.events")
    return len(get_channel_layer().serialize(message))


def main() -> None:
    _setup()
    for label, events, players in SHAPES:
        print(f"{label}: {message_bytes(events=events, players=players)} bytes per message")


if __name__ == "__main__":
    sys.exit(main())

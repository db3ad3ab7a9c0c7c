import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from stats import services
from stats.models import Game
from stats.scoring import services as scoring
from stats.scoring.models import Match, Stat
from stats.signals import game_created
from stats.simulator import DEMO_STATS
from stats.tests.games import game_slug_unique
from stats.tests.support import ROOT, database_url, event_in


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_create_game_makes_a_public_game(db):
    run("create_game", "cup", "--name", "The Cup")
    game = Game.objects.get(slug="cup")
    assert (game.name, game.is_public) == ("The Cup", True)


def test_create_game_private_flag_makes_a_private_game(db):
    run("create_game", "vault", "--name", "Vault", "--private")
    assert Game.objects.get(slug="vault").is_public is False


def test_create_game_refuses_a_bad_slug(db):
    with pytest.raises(CommandError, match="slug"):
        run("create_game", "Not A Slug", "--name", "x")
    assert not Game.objects.exists()


def test_create_game_refuses_a_taken_slug(game):
    with pytest.raises(CommandError, match="slug"):
        run("create_game", game.slug, "--name", "Again")


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_it_authenticates(client, game):
    raw = run("create_api_key", game.slug)[-1]
    assert raw.startswith("wg_") and raw == raw.strip() and " " not in raw
    response = client.post(
        f"/api/games/{game.slug}/events",
        data=json.dumps({"id": "e1", "player": "ada", "points": 1}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 202


def test_create_api_key_for_an_unknown_game_fails(db):
    with pytest.raises(CommandError, match="create_game"):
        run("create_api_key", "nosuch")


def test_demo_setup_creates_the_demo_games_once(db, settings):
    settings.DEMO_GAMES = ["demo", "demo2"]
    run("demo_setup")
    run("demo_setup")
    assert list(Game.objects.values_list("slug", flat=True)) == ["demo", "demo2"]


def test_manage_py_create_api_key_prints_a_usable_key_last(transactional_db, client):
    Game.objects.create(slug="cli", name="CLI", is_public=False)  # so only the key lets it in
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "webgame.test_settings",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "cli"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    raw = done.stdout.rstrip("\n").split("\n")[-1]
    response = client.get("/api/games/cli/snapshot", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert (response.status_code, response.json()["game"]["slug"]) == (200, "cli")


def test_demo_setup_declares_the_demo_stats_once(db, settings):
    settings.DEMO_GAMES = ["demo"]
    assert "declared kills, deaths, assists, best_streak, kd" in run("demo_setup")[0]
    assert "stats already declared" in run("demo_setup")[0]
    stats = {s.name: s for s in Stat.objects.filter(game__slug="demo")}
    assert list(stats) == [s["name"] for s in DEMO_STATS]
    assert (stats["deaths"].op, stats["deaths"].order) == ("incr", "asc")
    assert (stats["best_streak"].op, stats["best_streak"].order) == ("best", "desc")
    assert (stats["kd"].numerator, stats["kd"].denominator) == ("kills", "deaths")


def test_demo_setup_names_a_conflicting_stat(game, settings):
    settings.DEMO_GAMES = [game.slug]
    scoring.stat_declare(game=game, name="kills", op="best")
    with pytest.raises(CommandError, match="'kills' exists with another definition"):
        run("demo_setup")


# game_stats


def test_game_stats_lists_points_alone_for_a_new_game(game):
    lines = run("game_stats", game.slug)
    assert lines[0].startswith(f"Stats of game '{game.slug}'")
    assert lines[1].split() == ["points", "Points", "integer", "desc", "incr", "built", "in"]
    assert lines[2:] == ["No open match."]


def test_game_stats_add_declares_then_lists(game):
    lines = run("game_stats", game.slug, "--add", "kills", "--op", "incr", "--order", "desc", "--label", "Kills")
    assert lines[0] == "Declared stat 'kills'."
    assert lines[3].split() == ["kills", "Kills", "integer", "desc", "incr"]
    run("game_stats", game.slug, "--add", "deaths", "--order", "asc")
    run("game_stats", game.slug, "--add", "lap_ms", "--op", "best", "--order", "asc", "--format", "duration_ms")
    lines = run("game_stats", game.slug, "--add", "kd", "--ratio", "kills/deaths", "--label", "K/D")
    assert lines[0] == "Declared stat 'kd'."
    rows = [line.split() for line in lines[2:-1]]
    assert rows == [
        ["points", "Points", "integer", "desc", "incr", "built", "in"],
        ["kills", "Kills", "integer", "desc", "incr"],
        ["deaths", "Deaths", "integer", "asc", "incr"],
        ["lap_ms", "Lap", "ms", "duration_ms", "asc", "best"],
        ["kd", "K/D", "integer", "desc", "kills/deaths"],
    ]


def test_game_stats_add_again_is_a_no_op(game):
    run("game_stats", game.slug, "--add", "kills")
    assert run("game_stats", game.slug, "--add", "kills")[0] == "Already declared: stat 'kills'."


def test_game_stats_add_with_another_definition_is_a_conflict(game):
    run("game_stats", game.slug, "--add", "kills")
    with pytest.raises(CommandError, match="'kills' exists with another definition"):
        run("game_stats", game.slug, "--add", "kills", "--op", "best")
    assert Stat.objects.get(game=game, name="kills").op == "incr"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--add", "Kills"], "name: A lowercase letter"),
        (["--add", "points"], "points is built in"),
        (["--add", "kd", "--ratio", "kills/deaths"], "numerator: must be a declared stat"),
        (["--add", "kd", "--ratio", "kills"], "two stat names as A/B"),
        (["--add", "kd", "--ratio", "a/b/c"], "two stat names as A/B"),
        (["--add", "kd", "--ratio", "kills/deaths", "--op", "best"], "a ratio has no --op"),
        (["--add", "kills", "--op", "sum"], "invalid choice: 'sum'"),
        (["--add", "kills", "--format", "float"], "invalid choice: 'float'"),
        (["--add", "kills", "--order", "up"], "invalid choice: 'up'"),
        (["--op", "incr"], "--op: only with --add"),
        (["--name", "Final"], "--name: only with --start-match"),
        (["--add", "kills", "--end-match", "m1"], "not allowed with argument"),
        (["--start-match", "bad id"], "bad match id"),
        (["--start-match", "m1", "--name", "x" * 101], "at most 100"),
        (["--end-match", "nosuch"], "no match 'nosuch' in game 'arena-"),
    ],
)
def test_game_stats_refuses_bad_values_clearly(game, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run("game_stats", game.slug, *args)
    assert not Stat.objects.filter(game=game).exists() and not Match.objects.filter(game=game).exists()


def test_game_stats_changes_renames_and_removes_a_stat(game):
    """Issue #22: `--add kills --op best` on a declared kills was a dead end; now the
    declaration can be fixed, and the error says how."""
    run("game_stats", game.slug, "--add", "kills")
    run("game_stats", game.slug, "--add", "assits")
    services.score_events_record(game_id=game.pk, events=[event_in("e1", "ada", 1, stats={"kills": 4})])
    with pytest.raises(CommandError, match=r"--change kills .*--rename.*--remove"):
        run("game_stats", game.slug, "--add", "kills", "--op", "best")
    lines = run("game_stats", game.slug, "--change", "kills", "--op", "best", "--label", "Frags", "--position", "1")
    assert lines[0] == "Changed stat 'kills': label, op, position."
    assert [line.split()[:2] for line in lines[3:5]] == [["assits", "Assits"], ["kills", "Frags"]]
    assert run("game_stats", game.slug, "--rename", "assits", "assists")[0] == "Renamed stat 'assits' to 'assists'."
    assert run("game_stats", game.slug, "--remove", "assists")[0] == "Removed stat 'assists'."
    assert list(Stat.objects.filter(game=game).values_list("name", "op", "position")) == [("kills", "best", 0)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--change", "kills"], "give what to change"),
        (["--change", "kills", "--ratio", "a/b"], "a ratio's parts cannot change"),
        (["--add", "x", "--position", "1"], "--position: only with --change"),
        (["--change", "nope", "--label", "X"], "no stat 'nope' in this game (declared: kills)"),
        (["--change", "kills", "--position", "5"], "position must be from 0 to 0"),
        (["--rename", "kills", "points"], "points is built in"),
        (["--remove", "kills"], "events carry 'kills', so it stays: rename it"),
    ],
)
def test_game_stats_refuses_a_change_saying_what_can_be_done(game, args, message):
    run("game_stats", game.slug, "--add", "kills")
    services.score_events_record(game_id=game.pk, events=[event_in("e1", "ada", 1, stats={"kills": 4})])
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run("game_stats", game.slug, *args)
    assert list(Stat.objects.filter(game=game).values_list("name", "label", "position")) == [("kills", "Kills", 0)]


def test_game_stats_for_an_unknown_game_fails(db):
    with pytest.raises(CommandError, match="no game 'nosuch'"):
        run("game_stats", "nosuch")


def test_game_stats_starts_lists_and_ends_matches(game):
    assert run("game_stats", game.slug, "--start-match", "final", "--name", "Final") == [
        "Started match 'final' (Final)."
    ]
    assert run("game_stats", game.slug, "--start-match", "final", "--name", "Final") == [
        "Found (live) match 'final' (Final)."
    ]
    assert run("game_stats", game.slug)[-1] == "Open match: 'final' 'Final'."
    with pytest.raises(CommandError, match="'final' exists with another name"):
        run("game_stats", game.slug, "--start-match", "final", "--name", "Other")
    assert run("game_stats", game.slug, "--end-match", "final") == ["Match 'final' ended (no events)."]
    assert run("game_stats", game.slug, "--end-match", "final") == ["Match 'final' had already ended (no events)."]
    assert run("game_stats", game.slug)[-1] == "No open match."


def test_game_stats_start_match_without_an_id_makes_one(game):
    (line,) = run("game_stats", game.slug, "--start-match")
    match = Match.objects.get(game=game)
    assert line == f"Started match {match.match_id!r}." and match.status == "live"


def test_demo_setup_announces_nothing_and_create_game_announces_its_game(db, settings):
    """`make setup` runs demo_setup before Redis is up: a lobby push there could only fail
    and log a channel-layer outage on a new user's first `make run`. create_game runs while
    lobbies may be open, and tells them."""
    settings.DEMO_GAMES = [game_slug_unique("demo")]
    announced = []

    def seen(sender, *, game, **kwargs):
        announced.append(game.slug)

    game_created.connect(seen, dispatch_uid="test.commands.game_created")
    try:
        run("demo_setup")
        slug = game_slug_unique("cup")
        run("create_game", slug, "--name", "Cup")
    finally:
        game_created.disconnect(dispatch_uid="test.commands.game_created")
    assert announced == [slug]

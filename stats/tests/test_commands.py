import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from stats.models import Game
from stats.tests.support import ROOT, database_url


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
    settings.WEBGAME_DEMO_GAMES = ["demo", "demo2"]
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

"""`python -m bench.djsetup <slug>...`: migrate the benchmark database, create each game
afresh with an API key, print {slug: key} as JSON. Runs in its own process, like manage.py."""

import io
import json
import os
import sys


def session_make(username: str) -> dict:
    """A logged-in user's session cookie (for the chat benchmark's sender)."""
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=username)
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def main(slugs: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webgame.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from stats import services
    from stats.models import Game

    call_command("migrate", verbosity=0, stdout=io.StringIO())
    if slugs[:1] == ["--session"]:
        print(json.dumps(session_make(slugs[1])))
        return
    keys = {}
    for slug in slugs:
        Game.objects.filter(slug=slug).delete()
        game = services.game_create(slug=slug, name=f"bench {slug}")
        keys[slug] = services.api_key_create(game=game, name="bench")[1]
    print(json.dumps(keys))


if __name__ == "__main__":
    main(sys.argv[1:])

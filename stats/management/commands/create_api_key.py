from django.core.management.base import BaseCommand, CommandError

from stats import services
from stats.models import Game


class Command(BaseCommand):
    help = "Create an API key for a game. The key is printed alone on the last line, once."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")

    def handle(self, *args, slug, name, **options):
        game = Game.objects.filter(slug=slug).first()
        if game is None:
            raise CommandError(f"no game {slug!r}; create it with: manage.py create_game {slug} --name ...")
        key, raw = services.api_key_create(game=game, name=name)
        self.stdout.write(f"API key {key.prefix} for game {slug!r} (store it now; only its hash is kept):")
        self.stdout.write(raw)

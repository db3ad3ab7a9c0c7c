from django.conf import settings
from django.core.management.base import BaseCommand

from stats.models import Game


class Command(BaseCommand):
    help = "Create the demo games the simulator plays (idempotent)."

    def handle(self, *args, **options):
        for slug in settings.WEBGAME_DEMO_GAMES:
            game, created = Game.objects.get_or_create(slug=slug, defaults={"name": f"{slug.title()} match"})
            self.stdout.write(f"{'Created' if created else 'Found'} demo game {game.slug!r}.")

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from stats import services


class Command(BaseCommand):
    help = "Create a game (public unless --private)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--private", action="store_true")

    def handle(self, *args, slug, name, private, **options):
        try:
            game = services.game_create(slug=slug, name=name, is_public=not private)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"Created game {game.slug!r} ({'public' if game.is_public else 'private'}).")

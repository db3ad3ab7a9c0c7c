from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from stats import services
from stats.models import Game
from stats.scoring.services import ScoringConflict
from stats.simulator import demo_stats_declare


class Command(BaseCommand):
    help = "Create the demo games the simulator plays, and declare their stats (idempotent)."

    def handle(self, *args, **options):
        for slug in settings.DEMO_GAMES:
            game = Game.objects.filter(slug=slug).first()
            created = game is None
            if created:
                try:
                    # Run by `make setup` before Redis starts: no lobby is open to tell.
                    game = services.game_create(slug=slug, name=f"{slug.title()} match", announce=False)
                except ValidationError as exc:
                    raise CommandError(f"demo game {slug!r}: {'; '.join(exc.messages)}") from None
            try:
                declared = demo_stats_declare(game=game)
            except ScoringConflict as exc:
                raise CommandError(f"demo game {slug!r}: {exc} (see manage.py game_stats {slug})") from None
            new = [stat.name for stat, made in declared if made]
            stats = f"declared {', '.join(new)}" if new else "stats already declared"
            self.stdout.write(f"{'Created' if created else 'Found'} demo game {game.slug!r}; {stats}.")

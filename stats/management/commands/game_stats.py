from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from stats.models import Game
from stats.schemas import EventId
from stats.scoring import selectors, stat_changes
from stats.scoring import services as scoring
from stats.scoring.models import Match, Stat

MATCH_NAME_MAX = 100
_MATCH_ID = TypeAdapter(EventId)


class Command(BaseCommand):
    help = (
        "List a game's stats, declare one (--add), change one (--change: label, format, order, op, "
        "position), rename one (--rename), remove one no event carries (--remove), or start and end "
        "its matches. Declaring the same stat again is a no-op; another definition of a name is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--add", metavar="NAME", help="declare a stat (lowercase letters, digits, _)")
        action.add_argument(
            "--change", metavar="NAME", help="change a stat's --label, --format, --order, --op or --position"
        )
        action.add_argument(
            "--rename", nargs=2, metavar=("NAME", "NEW_NAME"), help="rename a stat (its totals and events follow)"
        )
        action.add_argument("--remove", metavar="NAME", help="remove a stat no event carries (or a ratio)")
        action.add_argument(
            "--start-match",
            nargs="?",
            const="",
            metavar="ID",
            help="start a match (it becomes the open match); without ID one is made",
        )
        action.add_argument("--end-match", metavar="ID", help="end a match")
        parser.add_argument("--label", default="", help="with --add or --change: the shown name (default: from NAME)")
        parser.add_argument("--format", choices=Stat.Format.values, help="with --add or --change (default: integer)")
        parser.add_argument(
            "--order", choices=Stat.Order.values, help="with --add or --change: desc, higher is better (default)"
        )
        parser.add_argument(
            "--op", choices=Stat.Op.values, help="with --add or --change: how values merge (default: incr)"
        )
        parser.add_argument("--ratio", metavar="A/B", help="with --add: a derived stat, the ratio of two declared ones")
        parser.add_argument("--position", type=int, help="with --change: its place in the list, from 0")
        parser.add_argument("--name", help="with --start-match: the match's name")

    def handle(self, *args, slug, add, change, rename, remove, start_match, end_match, name, **options):
        game = Game.objects.select_related("open_match").filter(slug=slug).first()
        if game is None:
            raise CommandError(f"no game {slug!r}; create it with: manage.py create_game {slug} --name ...")
        fields = {k: options[k] for k in ("label", "format", "order", "op", "ratio", "position")}
        self._options_check(add=add, change=change, fields=fields)
        if name is not None and start_match is None:
            raise CommandError("--name: only with --start-match")
        if add is not None or change is not None or rename or remove is not None:
            if add is not None:
                self._add(game, add, **{k: v for k, v in fields.items() if k != "position"})
            else:
                self._changed(game, change=change, rename=rename, remove=remove, fields=fields)
            self._list(Game.objects.select_related("open_match").get(pk=game.pk))
        elif start_match is not None:
            self._start(game, start_match or None, name or "")
        elif end_match is not None:
            self._end(game, end_match)
        else:
            self._list(game)

    def _add(self, game, stat_name, *, label, format, order, op, ratio):
        fields = {"label": label, "format": format, "order": order, "op": op}
        if ratio is not None:
            if op is not None:
                raise CommandError("a ratio has no --op (it is computed when read)")
            numerator, slash, denominator = ratio.partition("/")
            if not (slash and numerator and denominator) or "/" in denominator:
                raise CommandError(f"--ratio must be two stat names as A/B, e.g. kills/deaths (not {ratio!r})")
            fields.update(numerator=numerator.strip(), denominator=denominator.strip())
        try:
            stat, created = scoring.stat_declare(game=game, name=stat_name, **{k: v for k, v in fields.items() if v})
        except ValidationError as exc:
            raise CommandError(f"stat {stat_name!r} refused: {_described(exc)}") from None
        except scoring.ScoringConflict as exc:
            raise CommandError(str(exc)) from None  # it says what can be done (--change, --rename, --remove)
        self.stdout.write(f"{'Declared' if created else 'Already declared:'} stat {stat.name!r}.")

    @staticmethod
    def _options_check(*, add, change, fields) -> None:
        given = [f"--{k}" for k, v in fields.items() if v not in (None, "")]
        if add is not None and "--position" in given:
            raise CommandError("--position: only with --change (a new stat goes last)")
        if change is not None and "--ratio" in given:
            raise CommandError("--ratio: a ratio's parts cannot change; --add another stat, then --remove this one")
        if add is None and change is None and given:
            raise CommandError(f"{', '.join(given)}: only with --add or --change")
        if change is not None and not given:
            raise CommandError("--change: give what to change: --label, --format, --order, --op or --position")

    def _changed(self, game, *, change, rename, remove, fields):
        try:
            if change is not None:
                changes = {k: v for k, v in fields.items() if v not in (None, "") and k != "ratio"}
                stat_changes.stat_update(game=game, name=change, **changes)
                self.stdout.write(f"Changed stat {change!r}: {', '.join(sorted(changes))}.")
            elif rename:
                stat_changes.stat_rename(game=game, name=rename[0], new_name=rename[1])
                self.stdout.write(f"Renamed stat {rename[0]!r} to {rename[1]!r}.")
            else:
                stat_changes.stat_remove(game=game, name=remove)
                self.stdout.write(f"Removed stat {remove!r}.")
        except ValidationError as exc:
            raise CommandError(f"stat {change!r} refused: {_described(exc)}") from None
        except stat_changes.StatChangeRefused as exc:
            raise CommandError(str(exc)) from None

    def _start(self, game, match_id, name):
        if match_id is not None:
            try:
                _MATCH_ID.validate_python(match_id)
            except PydanticValidationError:
                raise CommandError(f"bad match id {match_id!r}: 1 to 64 of A-Z a-z 0-9 . _ : -") from None
        if len(name) > MATCH_NAME_MAX:
            raise CommandError(f"--name is at most {MATCH_NAME_MAX} characters")
        try:
            match, created = scoring.match_start(game_id=game.pk, match_id=match_id, name=name)
        except scoring.ScoringConflict as exc:
            raise CommandError(str(exc)) from None
        state = "Started" if created else f"Found ({match.status})"
        self.stdout.write(f"{state} match {match.match_id!r}{f' ({match.name})' if match.name else ''}.")

    def _end(self, game, match_id):
        try:
            was = selectors.match_get(game_id=game.pk, match_id=match_id).status
            match = scoring.match_end(game_id=game.pk, match_id=match_id)
        except Match.DoesNotExist:
            raise CommandError(f"no match {match_id!r} in game {game.slug!r}") from None
        ended = "had already ended" if was == Match.Status.FINISHED else "ended"
        seqs = f"seq {match.first_seq} to {match.last_seq}" if match.last_seq >= match.first_seq else "no events"
        self.stdout.write(f"Match {match.match_id!r} {ended} ({seqs}).")

    def _list(self, game):
        stats = selectors.stats_declared(game_id=game.pk)
        rows = [
            (
                s["name"],
                s["label"],
                s["format"],
                s["order"],
                f"{s['numerator']}/{s['denominator']}" if s["op"] is None else s["op"],
                "built in" if s["name"] == "points" else "",
            )
            for s in stats
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        self.stdout.write(f"Stats of game {game.slug!r} (name, label, format, order, op or ratio):")
        for row in rows:
            line = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False))
            self.stdout.write(f"  {line}  {row[-1]}".rstrip())
        match = game.open_match
        self.stdout.write(f"Open match: {match.match_id!r} {match.name!r}." if match else "No open match.")


def _described(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)

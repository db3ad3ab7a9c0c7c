"""HTML pages: the lobby, a game's live dashboard, its wall screen (TV) and stream overlays,
and the staff scoring page."""

import re
import uuid
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from pydantic import ValidationError

from stats import selectors, services
from stats.forms import StatsField, stats_check
from stats.models import Game
from stats.schemas import EventIn, errors_describe
from stats.scoring.record import EventsRefused


def lobby(request):
    # The open match shows as a tag on its game's card: joined here, not a query per game.
    games = selectors.game_list_visible(user=request.user).select_related("open_match")
    return render(request, "stats/lobby.html", {"games": games})


def _game_visible_or_404(request, slug: str) -> Game:
    """The game, if this user may watch it; otherwise the 404 of a game that does not exist."""
    try:
        return selectors.game_get_visible(slug=slug, user=request.user)
    except selectors.GameNotVisible:
        raise Http404("No such game") from None


def dashboard(request, slug: str):
    return render(request, "stats/dashboard.html", {"game": _game_visible_or_404(request, slug)})


def tv(request, slug: str):
    """A wall screen: scoreboard, leaderboard and ticker, live, with no controls."""
    return render(request, "stats/tv.html", {"game": _game_visible_or_404(request, slug)})


# ---- stream overlays -------------------------------------------------------------------------

OVERLAY_VIEWS = ("leaderboard", "scoreboard", "ticker")
OVERLAY_LIMITS = {"leaderboard": 10, "ticker": 8}  # the default of `limit` per view
OVERLAY_LIMIT_MAX = 20  # the snapshot's leaderboard holds 20
OVERLAY_SCALE_RANGE = (0.5, 4.0)
_DECIMAL = re.compile(r"\d{1,3}(\.\d{1,3})?", re.ASCII)


@dataclass(frozen=True)
class OverlayOptions:
    view: str
    limit: int  # leaderboard rows or ticker events (the scoreboard has a fixed top 3)
    scale: float  # text size, times the default
    title: bool  # the game's name above the panel


class OverlayOptionsInvalid(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _query_one(query: QueryDict, name: str, problems: list[str]) -> str | None:
    values = query.getlist(name)
    if len(values) > 1:
        problems.append(f"{name}: give it once, not {len(values)} times.")
        return None
    return values[0] if values else None


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def overlay_options_parse(query: QueryDict) -> OverlayOptions:
    """The overlay's query knobs, each checked; OverlayOptionsInvalid names every one at fault.
    A missing `view` is the leaderboard; any other value than the three is refused."""
    problems: list[str] = []
    view = _query_one(query, "view", problems)
    if view is None:
        view = "leaderboard"
    elif view not in OVERLAY_VIEWS:
        problems.append(f"view: {_shown(view)} is not a view; use {', '.join(OVERLAY_VIEWS)}.")
    limit = OVERLAY_LIMITS.get(view, OVERLAY_LIMITS["leaderboard"])
    raw = _query_one(query, "limit", problems)
    if raw is not None:
        # At most 3 characters before int(): it refuses over 4,300 digits with a ValueError.
        if len(raw) <= 3 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= OVERLAY_LIMIT_MAX:
            limit = int(raw)
        else:
            problems.append(f"limit: {_shown(raw)} is not a whole number from 1 to {OVERLAY_LIMIT_MAX}.")
    scale = 1.0
    raw = _query_one(query, "scale", problems)
    if raw is not None:
        low, high = OVERLAY_SCALE_RANGE
        if _DECIMAL.fullmatch(raw) and low <= float(raw) <= high:
            scale = float(raw)
        else:
            problems.append(f"scale: {_shown(raw)} is not a number from {low:g} to {high:g} (e.g. 1.5).")
    title = True
    raw = _query_one(query, "title", problems)
    if raw is not None:
        if raw in ("0", "1"):
            title = raw == "1"
        else:
            problems.append(f"title: {_shown(raw)} is not 0 (hide the game's name) or 1 (show it).")
    if problems:
        raise OverlayOptionsInvalid(problems)
    return OverlayOptions(view=view, limit=limit, scale=scale, title=title)


def overlay(request, slug: str):
    """A transparent page for a streaming tool's browser source: one view of the game, live."""
    game = _game_visible_or_404(request, slug)  # before the knobs: a hidden game stays a 404
    try:
        options = overlay_options_parse(request.GET)
    except OverlayOptionsInvalid as exc:
        context = {
            "game": game,
            "problems": exc.problems,
            "views": OVERLAY_VIEWS,
            "limit_max": OVERLAY_LIMIT_MAX,
            "scale_range": OVERLAY_SCALE_RANGE,
        }
        return render(request, "stats/overlay_error.html", context, status=400)
    return render(request, "stats/overlay.html", {"game": game, "options": options})


class ScoreForm(forms.Form):
    game = forms.ModelChoiceField(queryset=Game.objects.all(), to_field_name="slug")
    player = forms.CharField(max_length=64)
    points = forms.IntegerField(min_value=-(10**9), max_value=10**9)
    kind = forms.CharField(max_length=32, initial="score")
    stats = StatsField(help_text="The game's declared stats, as a JSON object.")
    team = forms.CharField(max_length=32, required=False, help_text="The player's team in the match.")
    match = forms.CharField(
        label="Match id", max_length=64, required=False, help_text="Leave blank for the game's open match."
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["event"] = EventIn(
                id=f"staff-{uuid.uuid4().hex}",
                player=data["player"],
                points=data["points"],
                kind=data["kind"],
                stats=data.get("stats") or None,
                team=data.get("team") or None,
                match=data.get("match") or None,
            )
        except ValidationError as exc:
            raise forms.ValidationError([f"{e['field']}: {e['message']}" for e in errors_describe(exc)]) from None
        stats_check(game=data["game"], stats=data["event"].stats)
        return data


@staff_member_required
def staff_score(request):
    form = ScoreForm(request.POST or None, initial={"game": request.GET.get("game")})
    if request.method == "POST" and form.is_valid():
        game = form.cleaned_data["game"]
        try:
            result = services.score_events_record(game_id=game.pk, events=[form.cleaned_data["event"]])
        except EventsRefused as exc:  # e.g. a match id the game does not have
            form.add_error(None, f"Not recorded: {exc.message}")
            return render(request, "stats/staff_score.html", {"form": form}, status=400)
        messages.success(
            request,
            f"Recorded {form.cleaned_data['points']} for {form.cleaned_data['player']} (seq {result.last_seq}).",
        )
        return redirect(f"{request.path}?game={game.slug}")
    return render(request, "stats/staff_score.html", {"form": form})

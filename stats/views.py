"""HTML pages: the lobby, a game's live dashboard, and the staff scoring page."""

import uuid

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from pydantic import ValidationError

from stats import selectors, services
from stats.models import Game
from stats.openapi import openapi_document
from stats.schemas import EventIn, errors_describe


def lobby(request):
    return render(request, "stats/lobby.html", {"games": selectors.game_list_visible(user=request.user)})


def dashboard(request, slug: str):
    try:
        game = selectors.game_get_visible(slug=slug, user=request.user)
    except selectors.GameNotVisible:
        raise Http404("No such game") from None
    return render(request, "stats/dashboard.html", {"game": game})


class ScoreForm(forms.Form):
    game = forms.ModelChoiceField(queryset=Game.objects.all(), to_field_name="slug")
    player = forms.CharField(max_length=64)
    points = forms.IntegerField(min_value=-(10**9), max_value=10**9)
    kind = forms.CharField(max_length=32, initial="score")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["event"] = EventIn(
                id=f"staff-{uuid.uuid4().hex}", player=data["player"], points=data["points"], kind=data["kind"]
            )
        except ValidationError as exc:
            raise forms.ValidationError([f"{e['field']}: {e['message']}" for e in errors_describe(exc)]) from None
        return data


@staff_member_required
def staff_score(request):
    form = ScoreForm(request.POST or None, initial={"game": request.GET.get("game")})
    if request.method == "POST" and form.is_valid():
        game = form.cleaned_data["game"]
        result = services.score_events_record(game_id=game.pk, events=[form.cleaned_data["event"]])
        messages.success(
            request,
            f"Recorded {form.cleaned_data['points']} for {form.cleaned_data['player']} (seq {result.last_seq}).",
        )
        return redirect(f"{request.path}?game={game.slug}")
    return render(request, "stats/staff_score.html", {"form": form})


def openapi(request):
    return JsonResponse(openapi_document())

"""Django admin. Score events are added and corrected through the services, so every save
gets a seq, updates the totals and appears live on open dashboards."""

import uuid

from django import forms
from django.contrib import admin, messages
from pydantic import ValidationError

from stats import services
from stats.models import ApiKey, Game, Player, ScoreEvent
from stats.schemas import EventIn, errors_describe


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_public", "event_count", "points_total", "last_seq"]
    readonly_fields = ["last_seq", "event_count", "points_total", "created_at"]
    filter_horizontal = ["viewers"]
    search_fields = ["slug", "name"]


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ["name", "game", "total", "event_count"]
    list_filter = ["game"]
    search_fields = ["name"]
    readonly_fields = ["game", "name", "total", "event_count"]

    def has_add_permission(self, request):
        return False  # players appear with their first event


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "game", "name", "created_at", "revoked"]
    list_filter = ["game", "revoked"]
    fields = ["game", "name", "revoked"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = services.api_key_create(game=obj.game, name=obj.name)
        obj.pk, obj.prefix, obj.hashed = key.pk, key.prefix, key.hashed
        obj._state.adding = False
        messages.warning(request, f"New API key (shown once, copy it now): {raw}")


class ScoreEventForm(forms.ModelForm):
    player_name = forms.CharField(label="Player", max_length=64)
    event_id = forms.CharField(label="Id", max_length=64, required=False, help_text="Leave blank for a new id.")

    class Meta:
        model = ScoreEvent
        fields = ["game", "event_id", "points", "kind", "at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].required = False

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("event_id") and ScoreEvent.objects.filter(game=data["game"], event_id=data["event_id"]).exists():
            raise forms.ValidationError("An event with this id exists already: open it to correct its points.")
        try:
            data["new_event"] = EventIn(
                id=data.get("event_id") or f"admin-{uuid.uuid4().hex}",
                player=data["player_name"],
                points=data["points"],
                kind=data.get("kind") or "score",
                at=data.get("at"),
            )
        except ValidationError as exc:
            raise forms.ValidationError([f"{e['field']}: {e['message']}" for e in errors_describe(exc)]) from None
        return data


class CorrectionForm(forms.ModelForm):
    points = forms.IntegerField(label="Points (corrected)", min_value=-(10**9), max_value=10**9)

    class Meta:
        model = ScoreEvent
        fields = ["points"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["points"] = services.score_event_effective_points(event=self.instance)


@admin.register(ScoreEvent)
class ScoreEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "game", "event_id", "player", "points", "kind", "at", "received_at"]
    list_filter = ["game", "kind"]
    search_fields = ["event_id", "player__name"]
    list_select_related = ["game", "player"]
    ordering = ["-received_at", "-seq"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = CorrectionForm if obj is not None else ScoreEventForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["game", "player_name", "points", "kind", "at", "event_id"]
        return ["game", "event_id", "seq", "player", "kind", "at", "points"]

    def get_readonly_fields(self, request, obj=None):
        return ["game", "event_id", "seq", "player", "kind", "at"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # the log is append-only: correct the points instead

    def save_model(self, request, obj, form, change):
        if change:
            correction = services.score_event_correct(event_pk=obj.pk, points=form.cleaned_data["points"])
            if correction is not None:
                messages.info(request, f"Correction of {correction.points:+d} recorded as seq {correction.seq}.")
            obj.refresh_from_db()
            return
        new_event = form.cleaned_data["new_event"]
        services.score_events_record(game_id=obj.game_id, events=[new_event])
        saved = ScoreEvent.objects.get(game_id=obj.game_id, event_id=new_event.id)
        obj.pk, obj.seq, obj.player_id = saved.pk, saved.seq, saved.player_id
        obj._state.adding = False

"""Django admin. Score events are added and corrected through the services, so every save
gets a seq, updates the totals and appears live on open dashboards."""

import uuid

from django import forms
from django.contrib import admin, messages
from pydantic import ValidationError

from stats import services
from stats.chat import services as chat_services
from stats.chat.models import ChatMessage, ChatMute
from stats.forms import StatsField, stats_check
from stats.models import ApiKey, Game, Player, ScoreEvent
from stats.schemas import MAX_STAT_VALUE, EventIn, errors_describe
from stats.scoring import admin as scoring_admin  # noqa: F401 - registers the stats and matches admin
from stats.scoring.record import EventsRefused


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_public", "event_count", "points_total", "last_seq"]
    readonly_fields = ["last_seq", "event_count", "points_total", "created_at"]
    filter_horizontal = ["viewers"]
    search_fields = ["slug", "name"]

    def save_model(self, request, obj, form, change):
        # A new game is made by the service, as create_game makes one: open lobbies show it.
        if change:
            return super().save_model(request, obj, form, change)
        game = services.game_create(slug=obj.slug, name=obj.name, is_public=obj.is_public)
        obj.pk, obj.created_at = game.pk, game.created_at
        obj._state.adding = False


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
    stats = StatsField(help_text='The game\'s stats, e.g. {"kills": 1, "deaths": 0}.')
    team = forms.CharField(max_length=32, required=False)
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
                stats=data.get("stats") or None,
                team=data.get("team") or None,
            )
        except ValidationError as exc:
            raise forms.ValidationError([f"{e['field']}: {e['message']}" for e in errors_describe(exc)]) from None
        stats_check(game=data["game"], stats=data["new_event"].stats)
        return data


class CorrectionForm(forms.ModelForm):
    points = forms.IntegerField(label="Points (corrected)", min_value=-(10**9), max_value=10**9)
    stats = StatsField(label="Stats (corrected)", help_text="The event's stats as they should be.")

    class Meta:
        model = ScoreEvent
        fields = ["points"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["points"] = services.score_event_effective_points(event=self.instance)
            self.initial["stats"] = services.score_event_effective_stats(event=self.instance) or None

    def clean_stats(self):
        stats = self.cleaned_data.get("stats") or {}
        if not isinstance(stats, dict) or not all(
            isinstance(k, str) and type(v) is int and abs(v) <= MAX_STAT_VALUE for k, v in stats.items()
        ):
            raise forms.ValidationError(f"An object of stat names to whole numbers (at most {MAX_STAT_VALUE}).")
        stats_check(game=self.instance.game, stats=stats)
        return stats


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
            return ["game", "player_name", "points", "stats", "team", "kind", "at", "event_id"]
        return ["game", "event_id", "seq", "player", "team", "match", "kind", "at", "points", "stats"]

    def get_readonly_fields(self, request, obj=None):
        return ["game", "event_id", "seq", "player", "team", "match", "kind", "at"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # the log is append-only: correct the points instead

    def save_model(self, request, obj, form, change):
        if change:
            try:
                correction = services.score_event_correct(
                    event_pk=obj.pk, points=form.cleaned_data["points"], stats=form.cleaned_data["stats"]
                )
            except EventsRefused as exc:
                messages.error(request, f"Not corrected: {exc.message}")
                return
            if correction is not None:
                messages.info(request, f"Correction of {correction.points:+d} recorded as seq {correction.seq}.")
            obj.refresh_from_db()
            return
        new_event = form.cleaned_data["new_event"]
        services.score_events_record(game_id=obj.game_id, events=[new_event])
        saved = ScoreEvent.objects.get(game_id=obj.game_id, event_id=new_event.id)
        obj.pk, obj.seq, obj.player_id = saved.pk, saved.seq, saved.player_id
        obj._state.adding = False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    """The chat log, read-only. Messages are removed with the moderation action, which soft
    deletes through the service (so open dashboards drop them), never by a row delete."""

    list_display = ["created_at", "game", "user", "text", "deleted_at", "deleted_by"]
    list_filter = ["game", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["text", "user__username"]
    list_select_related = ["game", "user", "deleted_by"]
    ordering = ["-id"]
    readonly_fields = ["game", "user", "text", "created_at", "deleted_at", "deleted_by"]
    actions = ["moderate_delete"]

    def has_add_permission(self, request):
        return False  # messages are posted over the game's WebSocket

    def has_delete_permission(self, request, obj=None):
        return False  # the log keeps moderated messages: use the moderation action

    @admin.action(description="Delete (moderate): hide from viewers, keep in the log", permissions=["change"])
    def moderate_delete(self, request, queryset):
        deleted = 0
        for pk in queryset.filter(deleted_at__isnull=True).values_list("pk", flat=True):
            try:
                chat_services.chat_message_delete(message_id=pk, by=request.user)
            except chat_services.ChatRefused as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
            deleted += 1
        self.message_user(request, f"{deleted} message(s) deleted.", messages.SUCCESS)


@admin.register(ChatMute)
class ChatMuteAdmin(admin.ModelAdmin):
    """Mutes are added and removed through the service (staff only, author recorded)."""

    list_display = ["game", "user", "muted_by", "created_at"]
    list_filter = ["game"]
    search_fields = ["user__username"]
    list_select_related = ["game", "user", "muted_by"]
    raw_id_fields = ["user"]  # a select of every user would not scale

    def get_fields(self, request, obj=None):
        return ["game", "user"] if obj is None else ["game", "user", "muted_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["game", "user", "muted_by", "created_at"]  # unmute, then mute anew

    def save_model(self, request, obj, form, change):
        if change:
            return
        chat_services.chat_mute_set(game_id=obj.game_id, username=obj.user.username, by=request.user, muted=True)
        saved = ChatMute.objects.get(game_id=obj.game_id, user_id=obj.user_id)
        obj.pk, obj.muted_by_id, obj.created_at = saved.pk, saved.muted_by_id, saved.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        chat_services.chat_mute_set(game_id=obj.game_id, username=obj.user.username, by=request.user, muted=False)

    def delete_queryset(self, request, queryset):
        for mute in queryset.select_related("user"):
            self.delete_model(request, mute)

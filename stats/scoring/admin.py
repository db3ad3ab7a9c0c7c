"""Admin for stats and matches. Declaring, changing, renaming or removing a stat and starting
or ending a match go through stats.scoring's services, as the API's and the command's do, so
the totals, the open match and the live pages follow."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse

from stats.scoring import services, stat_changes
from stats.scoring.models import Match, Stat


class StatForm(forms.ModelForm):
    class Meta:
        model = Stat
        fields = ["game", "name", "label", "format", "order", "op", "numerator", "denominator"]
        help_texts = {"numerator": "For a ratio of two stats (e.g. kills / deaths); leave blank otherwise."}


@admin.register(Stat)
class StatAdmin(admin.ModelAdmin):
    form = StatForm
    list_display = ["name", "game", "label", "format", "order", "op", "numerator", "denominator"]
    list_filter = ["game"]

    def get_readonly_fields(self, request, obj=None):
        # A ratio's parts stay (add another ratio instead); a rename, a new order or op go
        # through stat_changes, which moves or rebuilds the totals kept by them.
        if obj is None:
            return []
        return ["game", "op", "numerator", "denominator"] if obj.derived else ["game", "numerator", "denominator"]

    def save_model(self, request, obj, form, change):
        if change:
            return self._change(request, obj)
        data = {f: form.cleaned_data[f] for f in ("name", "label", "format", "order", "op", "numerator", "denominator")}
        try:
            stat, _ = services.stat_declare(game=form.cleaned_data["game"], **data)
        except (ValidationError, services.ScoringConflict) as exc:
            messages.error(request, f"Not declared: {exc}")
            return
        obj.pk = stat.pk
        obj._state.adding = False

    def _change(self, request, obj: Stat) -> None:
        old = Stat.objects.get(pk=obj.pk)
        try:
            if obj.name != old.name:
                stat_changes.stat_rename(game=old.game, name=old.name, new_name=obj.name)
            stat_changes.stat_update(
                game=old.game, name=obj.name, label=obj.label, format=obj.format, order=obj.order,
                op=None if old.derived else obj.op,
            )  # fmt: skip
        except (ValidationError, stat_changes.StatChangeRefused) as exc:
            messages.error(request, f"Not changed: {exc}")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through stat_remove
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        """The confirmation page as usual; the removal itself through stat_remove, which
        refuses a stat that events carry or a ratio uses, saying what can be done."""
        stat = self.get_object(request, object_id)
        if request.method != "POST" or stat is None:
            return super().delete_view(request, object_id, extra_context)
        try:
            stat_changes.stat_remove(game=stat.game, name=stat.name)
        except stat_changes.StatChangeRefused as exc:
            messages.error(request, f"Not removed: {exc}")
            return redirect(reverse("admin:stats_stat_change", args=[stat.pk]))
        messages.success(request, f"Removed stat {stat.name!r}.")
        return redirect(reverse("admin:stats_stat_changelist"))


class MatchForm(forms.ModelForm):
    match_id = forms.RegexField(
        label="Id", regex=r"^[A-Za-z0-9._:\-]{1,64}$", required=False, help_text="Leave blank for a new id."
    )

    class Meta:
        model = Match
        fields = ["game", "match_id", "name"]


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    form = MatchForm
    list_display = ["match_id", "game", "name", "status", "started_at", "ended_at", "first_seq", "last_seq"]
    list_filter = ["game", "status"]
    search_fields = ["match_id", "name"]
    actions = ["end_matches"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["game", "match_id", "name"]
        return ["game", "match_id", "name", "status", "started_at", "ended_at", "first_seq", "last_seq"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            match, _ = services.match_start(
                game_id=data["game"].pk, match_id=data["match_id"] or None, name=data["name"]
            )
        except services.ScoringConflict as exc:
            messages.error(request, f"Not started: {exc}")
            return
        obj.pk = match.pk
        obj._state.adding = False

    @admin.action(description="End the selected matches")
    def end_matches(self, request, queryset):
        for match in queryset.filter(status=Match.Status.LIVE):
            services.match_end(game_id=match.game_id, match_id=match.match_id)
        messages.success(request, "Ended.")

    def has_delete_permission(self, request, obj=None):
        return False  # the log names it

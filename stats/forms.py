"""Form parts shared by the admin and the staff scoring page: the event's stats box, and the
check of its names against the game's declared stats."""

import json

from django import forms

from stats.scoring.models import Stat


class StatsField(forms.JSONField):
    """A JSON object of stat names to values. Empty shows as an empty box (Django's JSONField
    writes `null` into it, which a user then has to delete), a value as one readable line."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2, "placeholder": '{"kills": 1, "deaths": 0}'}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if value is None or value == "null":
            return ""
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, sort_keys=True, cls=self.encoder)


def stats_check(*, game, stats: dict | None) -> None:
    """The form's answer to a stat the game does not declare (the service would refuse it)."""
    declared = set(Stat.objects.filter(game=game, numerator="").values_list("name", flat=True))
    unknown = sorted(set(stats or ()) - declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise forms.ValidationError(f"Not a stat of this game: {', '.join(unknown)} (declared: {known}).")

"""stats/forms.py: the stats box shared by the admin and the staff page."""

import pytest
from django import forms

from stats.forms import StatsField, stats_check
from stats.scoring import services as scoring


class StatsForm(forms.Form):
    stats = StatsField()


def test_an_empty_box_is_empty_not_null():
    assert StatsForm().as_p().count("null") == 0
    assert StatsField().prepare_value(None) == ""


def test_a_value_shows_as_one_sorted_line():
    assert StatsField().prepare_value({"kills": 2, "deaths": 1}) == '{"deaths": 1, "kills": 2}'


@pytest.mark.parametrize(("text", "cleaned"), [("", None), ('{"kills": 3}', {"kills": 3})])
def test_a_blank_box_is_no_stats_and_json_is_read(text, cleaned):
    form = StatsForm({"stats": text})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["stats"] == cleaned


def test_bad_json_is_an_error_shown_again_as_typed():
    form = StatsForm({"stats": "{kills"})
    assert not form.is_valid()
    assert "{kills" in form.as_p()


def test_stats_check_names_the_declared_stats(game):
    scoring.stat_declare(game=game, name="kills")
    stats_check(game=game, stats={"kills": 1})
    stats_check(game=game, stats=None)
    with pytest.raises(forms.ValidationError, match=r"Not a stat of this game: deaths \(declared: kills\)\."):
        stats_check(game=game, stats={"deaths": 1})

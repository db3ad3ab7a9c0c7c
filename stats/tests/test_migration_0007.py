"""Migration 0007: the `ratio` format, and derived stats declared `integer` before it (the
demo's K/D) moved to it, so that a demo game made before still matches DEMO_STATS."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("stats", "0006_stat_position_unique")]
AFTER = [("stats", "0007_stat_format_ratio")]


@pytest.mark.django_db(transaction=True)
def test_derived_integer_stats_become_ratio_and_others_stay():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Game, Stat = apps.get_model("stats", "Game"), apps.get_model("stats", "Stat")
    game = Game.objects.create(slug="old-demo", name="Old demo")
    rows = [
        ("kills", "integer", "", ""),
        ("deaths", "integer", "", ""),
        ("kd", "integer", "kills", "deaths"),
        ("acc", "percent", "kills", "deaths"),
    ]
    for position, (name, fmt, numerator, denominator) in enumerate(rows):
        parts = {"numerator": numerator, "denominator": denominator}
        Stat.objects.create(game=game, name=name, label=name, format=fmt, position=position, **parts)
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    executor.loader.build_graph()
    Stat = executor.loader.project_state(AFTER).apps.get_model("stats", "Stat")
    formats = dict(Stat.objects.filter(game__slug="old-demo").values_list("name", "format"))
    assert formats == {"kills": "integer", "deaths": "integer", "kd": "ratio", "acc": "percent"}
    # Back to the latest state for the tests after this one.
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

"""Stat positions unique per game (#19). Concurrent declarations could give two stats one
position before stat_declare took the game's row lock: such games are numbered again, in
their order (position, then the older first), before the constraint is added."""

from django.db import migrations, models


def positions_renumber(apps, schema_editor):
    Stat = apps.get_model("stats", "Stat")
    games = Stat.objects.values("game_id").annotate(n=models.Count("id"), p=models.Count("position", distinct=True))
    for game_id in [g["game_id"] for g in games if g["n"] != g["p"]]:
        stats = list(Stat.objects.filter(game_id=game_id).order_by("position", "pk"))
        for i, stat in enumerate(stats):  # no constraint yet: no clash on the way
            stat.position = i
        Stat.objects.bulk_update(stats, ["position"])


class Migration(migrations.Migration):
    dependencies = [("stats", "0005_scoreevent_no_db_fk")]

    operations = [
        migrations.RunPython(positions_renumber, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="stat",
            constraint=models.UniqueConstraint(fields=("game", "position"), name="stat_unique_position"),
        ),
    ]

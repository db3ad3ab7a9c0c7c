from django.db import migrations, models


def derived_integer_to_ratio(apps, schema_editor):
    # A derived stat's values are ratios: "integer" was the only choice there was for them (the
    # demo's K/D). Declared "ratio" now, so that a demo game made before this migration still
    # matches DEMO_STATS when the demo re-declares its stats at start.
    Stat = apps.get_model("stats", "Stat")
    Stat.objects.exclude(numerator="").filter(format="integer").update(format="ratio")


class Migration(migrations.Migration):

    dependencies = [
        ('stats', '0006_stat_position_unique'),
    ]

    operations = [
        migrations.AlterField(
            model_name='stat',
            name='format',
            field=models.CharField(choices=[('integer', 'Integer'), ('duration_ms', 'Duration Ms'), ('percent', 'Percent'), ('ratio', 'Ratio')], default='integer', max_length=16),
        ),
        migrations.RunPython(derived_integer_to_ratio, migrations.RunPython.noop),
    ]

from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from stats import checks, receivers, signals  # noqa: F401 - checks registers itself
        from stats.models import ApiKey, Game

        signals.score_events_recorded.connect(
            receivers.broadcast_after_commit, dispatch_uid="stats.broadcast_after_commit"
        )
        # Cached API keys (stats.selectors) must not outlive a revocation or deletion made here.
        # Not Game's post_save: every recorded event saves its game.
        post_save.connect(receivers.api_key_cache_clear, sender=ApiKey, dispatch_uid="stats.keys.saved")
        post_delete.connect(receivers.api_key_cache_clear, sender=ApiKey, dispatch_uid="stats.keys.deleted")
        post_delete.connect(receivers.api_key_cache_clear, sender=Game, dispatch_uid="stats.keys.game_deleted")

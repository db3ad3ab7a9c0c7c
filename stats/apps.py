from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from stats import checks, receivers, signals  # noqa: F401 - checks registers itself
        from stats.models import ApiKey, Game
        from webgame import checks as webgame_checks  # noqa: F401 - registers itself too

        signals.score_events_recorded.connect(
            receivers.broadcast_after_commit, dispatch_uid="stats.broadcast_after_commit"
        )
        # The live path: one receiver per domain signal, each the only publisher of its frames.
        signals.chat_message_posted.connect(receivers.chat_posted_broadcast, dispatch_uid="stats.chat_posted")
        signals.chat_message_deleted.connect(receivers.chat_deleted_broadcast, dispatch_uid="stats.chat_deleted")
        signals.match_started.connect(receivers.match_broadcast, dispatch_uid="stats.match_started")
        signals.match_ended.connect(receivers.match_broadcast, dispatch_uid="stats.match_ended")
        signals.viewers_counted.connect(receivers.viewers_broadcast, dispatch_uid="stats.viewers_counted")
        # Cached API keys (stats.selectors) must not outlive a revocation or deletion made here.
        # Not Game's post_save: every recorded event saves its game.
        signals.game_created.connect(receivers.lobby_game_created, dispatch_uid="stats.lobby_game_created")
        post_save.connect(receivers.api_key_cache_clear, sender=ApiKey, dispatch_uid="stats.keys.saved")
        post_delete.connect(receivers.api_key_cache_clear, sender=ApiKey, dispatch_uid="stats.keys.deleted")
        post_delete.connect(receivers.api_key_cache_clear, sender=Game, dispatch_uid="stats.keys.game_deleted")
        # Rights on open sockets (stats.live.rights): told when they change, issue #19.
        m2m_changed.connect(
            receivers.rights_viewers_changed, sender=Game.viewers.through, dispatch_uid="stats.rights.viewers"
        )
        post_save.connect(receivers.rights_user_saved, sender=get_user_model(), dispatch_uid="stats.rights.user")
        user_logged_out.connect(receivers.rights_logged_out, dispatch_uid="stats.rights.logout")

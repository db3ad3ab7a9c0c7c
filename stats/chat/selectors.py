"""Chat reads: what a viewer is shown (deleted messages left out), oldest first."""

from stats.chat.models import ChatMessage
from stats.chat.wire import chat_wire

CHAT_RECENT_DEFAULT = 50
# The API's largest page: a screenful or a few; a larger limit is refused, not cut.
CHAT_PAGE_MAX = 200
# Message ids are BigAutoField: none is larger (the API refuses a larger `before`).
CHAT_ID_MAX = 2**63 - 1


def _visible(*, game_id: int):
    return ChatMessage.objects.filter(game_id=game_id, deleted_at__isnull=True).select_related("user")


def chat_recent(*, game_id: int, limit: int = CHAT_RECENT_DEFAULT) -> list[dict]:
    """The last `limit` messages, oldest first, in one query."""
    rows = list(_visible(game_id=game_id).order_by("-id")[:limit])
    return [chat_wire(m) for m in reversed(rows)]


def chat_page(*, game_id: int, before: int | None, limit: int) -> dict:
    """The `limit` messages before the id `before` (the latest if None), oldest first.
    `before` in the answer is the id to ask for the page before this one, None at the start."""
    rows = _visible(game_id=game_id)
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows.order_by("-id")[: limit + 1])  # one more: is there an older page?
    more = len(page) > limit
    page = page[:limit]
    return {
        "messages": [chat_wire(m) for m in reversed(page)],
        "before": page[-1].pk if more else None,
        "more": more,
    }

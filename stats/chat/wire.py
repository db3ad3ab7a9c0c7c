"""The JSON shape of one chat message, for the live frames and the API alike."""

from stats.chat.models import ChatMessage
from stats.wire import ts_ms


def chat_wire(message: ChatMessage) -> dict:
    """Reads message.user: select_related it when wiring many."""
    return {
        "id": message.pk,
        "user": message.user.username,
        "text": message.text,
        "at_ms": ts_ms(message.created_at),
    }

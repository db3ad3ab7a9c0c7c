"""The chat slice of the HTTP API (a django-ninja router): a game's chat, a page at a time."""

from django.http import JsonResponse
from ninja import Router

from stats.api import READER, game_for_reader
from stats.apikit import Slug, answers, digits
from stats.apimodels import ChatPage
from stats.chat import selectors as chat_selectors

router = Router(tags=["chat"])


@router.get(
    "/games/{slug:slug}/chat",
    response=answers({200: ChatPage}, 404, 429),
    summary="A page of the game's chat, oldest first; page back with `before`",
    openapi_extra=READER,
)
def chat_get(
    request,
    slug: Slug,
    before: digits(
        1, chat_selectors.CHAT_ID_MAX, description="only messages with a smaller id (the `before` of the previous page)"
    ) = None,
    limit: digits(1, chat_selectors.CHAT_PAGE_MAX) = chat_selectors.CHAT_RECENT_DEFAULT,
):
    game = game_for_reader(request, slug)
    return JsonResponse(chat_selectors.chat_page(game_id=game.pk, before=before, limit=limit))

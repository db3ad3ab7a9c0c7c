"""Helpers shared by the admin test modules."""


def event_form(game, **fields):
    return {
        "game": game.pk,
        "player_name": "ada",
        "points": 5,
        "kind": "score",
        "at_0": "",
        "at_1": "",
        "event_id": "",
        **fields,
    }

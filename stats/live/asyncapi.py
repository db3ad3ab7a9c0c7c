"""docs/asyncapi.json, generated from the frame models of stats.live.frames (AsyncAPI 3.0)."""

from pydantic import BaseModel

LOBBY_SERVER = ("ConnectionEstablished", "Games", "LobbyGame", "Pong", "Error", "Status")
INGEST_SERVER = ("Ack", "Error", "Pong")
NOT_ON_GAME = ("Games", "LobbyGame", "Ack")
CLIENT_FRAMES = {
    "Ping": {"type": "object", "required": ["type"], "properties": {"type": {"const": "ping"}}},
    "ChatSend": {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"const": "chat"}, "text": {"type": "string", "maxLength": 500}},
    },
    "ChatDelete": {
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"const": "chat_delete"}, "id": {"type": "integer", "minimum": 1}},
    },
    "ChatMute": {
        "type": "object",
        "required": ["type", "user", "muted"],
        "properties": {"type": {"const": "chat_mute"}, "user": {"type": "string"}, "muted": {"type": "boolean"}},
    },
    "IngestEvents": {
        "type": "object",
        "description": "ingest socket: events as in the HTTP API's EventIn (see /api/openapi.json)",
        "required": ["type", "ref", "events"],
        "properties": {
            "type": {"const": "events"},
            "ref": {"type": "integer", "minimum": 0},
            "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "object"}},
        },
    },
    "Resume": {
        "type": "object",
        "required": ["type", "after_seq"],
        "properties": {"type": {"const": "resume"}, "after_seq": {"type": "integer", "minimum": 0}},
    },
}


def _schemas(models) -> dict:
    schemas: dict = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {**schemas, **CLIENT_FRAMES}


def _messages(names) -> dict:
    return {name: {"$ref": f"#/components/messages/{name}"} for name in names}


def _operation(action: str, channel: str, names) -> dict:
    """`send`: the server sends these on the channel; `receive`: it takes them."""
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in names],
    }


def document(models: tuple[type[BaseModel], ...]) -> dict:
    names = [m.__name__ for m in models]
    game_server = [n for n in names if n not in NOT_ON_GAME]
    game_client = ["Ping", "Resume", "ChatSend", "ChatDelete", "ChatMute"]
    messages = {n: {"name": n, "payload": {"$ref": f"#/components/schemas/{n}"}} for n in [*names, *CLIENT_FRAMES]}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "webgame live stream",
            "version": "1",
            "description": "JSON text frames both ways; see docs/protocol.md for the rules.",
        },
        "channels": {
            "game": {
                "address": "/ws/games/{slug}/",
                "parameters": {"slug": {"description": "the game's slug; the channel-layer group is game.<slug>"}},
                "messages": _messages([*game_server, *game_client]),
            },
            "lobby": {"address": "/ws/lobby/", "messages": _messages([*LOBBY_SERVER, "Ping"])},
            "ingest": {
                "address": "/ws/ingest/{slug}/",
                "parameters": {"slug": {"description": "the game's slug; Authorization: Bearer <its API key>"}},
                "messages": _messages([*INGEST_SERVER, "IngestEvents"]),
            },
        },
        "operations": {
            "gameReceive": _operation("send", "game", game_server),
            "gameSend": _operation("receive", "game", game_client),
            "lobbyReceive": _operation("send", "lobby", LOBBY_SERVER),
            "ingestReceive": _operation("send", "ingest", INGEST_SERVER),
            "ingestSend": _operation("receive", "ingest", ["IngestEvents"]),
        },
        "components": {"messages": messages, "schemas": _schemas(models)},
    }

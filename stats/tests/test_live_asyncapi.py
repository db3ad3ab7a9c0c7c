"""stats.live.asyncapi: the AsyncAPI 3.0 document is whole (every reference resolves) and
names every frame each endpoint sends and takes."""

from stats.live import frames
from stats.live.asyncapi import document


def refs(node) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(doc: dict, ref: str):
    node = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_reference_resolves():
    doc = document(frames.FRAMES)
    assert doc["asyncapi"] == "3.0.0"
    unresolved = []
    for ref in refs(doc):
        try:
            resolve(doc, ref)
        except KeyError:
            unresolved.append(ref)
    assert not unresolved


def test_each_endpoint_names_what_it_sends_and_takes():
    channels = document(frames.FRAMES)["channels"]
    game, lobby = set(channels["game"]["messages"]), set(channels["lobby"]["messages"])
    assert {"Snapshot", "Events", "Presence", "Pong", "Status", "Error", "Ping", "Resume"} <= game
    assert {"Games", "LobbyGame"}.isdisjoint(game)
    assert {"Games", "LobbyGame", "Pong", "Ping"} <= lobby and "Snapshot" not in lobby

"""`events` frames cut below WS_MAX_FRAME_BYTES, for every server: daphne (autobahn) refuses
to send a message over its --websocket-max-message-size (1 MiB), and a burst coalesced into
one frame, or a replay, can be larger (issue #19).

The fan-out joins contiguous runs (one run per write) into frames up to the limit; a run
that is larger alone, like a replay, is cut by seq into contiguous frames. Each frame keeps
the protocol's rule that `players` are absolute after its last event:

- a player (or team) whose last event of the run is in a frame gets its final record there,
  stats and all (nothing later changes it);
- a player with events in later frames too gets `total` and `events` as of this frame's last
  event (the final ones less the later events' points and count) and no `stats` (stats that
  a frame does not carry are unchanged; their values arrive, exact, with the player's last
  frame of the run, a few milliseconds later); a team with later events is left out;
- the game's `last_seq`, `events` and `points` are its values as of the frame's last event.
"""

import json

from stats.live import frames

SLACK = 64  # bytes: an intermediate record can have a longer number than the final one


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def events_cut(
    *,
    events: list[dict],
    players: list[dict],
    game: dict,
    teams: list[dict] | None,
    limit: int,
    resumed: bool = False,
) -> list[tuple[int, int, str]]:
    """(first_seq, last_seq, text) of each frame: the run cut into contiguous frames, each
    under `limit` bytes unless one event with its records is larger alone."""
    whole = frames.events_text(
        events_json=frames.json_compact(events), players=players, game=game, teams=teams, resumed=resumed
    )
    if not events or utf8_len(whole) <= limit:  # the usual case: one frame, as it always was
        return [(events[0]["seq"] if events else 0, events[-1]["seq"] if events else 0, whole)]
    encoded = [frames.json_compact(e) for e in events]
    final = {p["player"]: p for p in players}
    team_final = {(t["match"], t["team"]): t for t in teams or ()}
    empty = frames.events_text(events_json="[]", players=[], game=game, resumed=resumed)
    bounds = _bounds(events, encoded, final, team_final, limit - utf8_len(empty) - SLACK)
    return _frames_build(events, encoded, final, team_final, game, bounds, resumed)


def _team_key(event: dict) -> tuple | None:
    return (event.get("match"), event.get("team")) if event.get("team") else None


def _bounds(events, encoded, final, team_final, budget) -> list[tuple[int, int]]:
    """[start, end) of each frame: as many events as fit, with one record per player and team."""
    costs: dict[tuple, int] = {}

    def records_of(event: dict) -> list[tuple]:
        keys = [("player", event["player"])] if event["player"] in final else []
        team = _team_key(event)
        return [*keys, ("team", team)] if team in team_final else keys

    def cost_of(key: tuple) -> int:
        if key not in costs:
            record = final[key[1]] if key[0] == "player" else team_final[key[1]]
            costs[key] = utf8_len(frames.json_compact(record)) + SLACK
        return costs[key]

    bounds, start, size, seen = [], 0, 0, set()
    for i, event in enumerate(events):
        keys = records_of(event)
        cost = utf8_len(encoded[i]) + 1 + sum(cost_of(k) for k in keys if k not in seen)
        if i > start and size + cost > budget:
            bounds.append((start, i))
            start, size, seen = i, 0, set()
            cost = utf8_len(encoded[i]) + 1 + sum(cost_of(k) for k in keys)
        seen.update(keys)
        size += cost
    bounds.append((start, len(events)))
    return bounds


def _frames_build(events, encoded, final, team_final, game, bounds, resumed) -> list[tuple[int, int, str]]:
    last_of = {e["player"]: i for i, e in enumerate(events)}
    team_last_of = {_team_key(e): i for i, e in enumerate(events)}
    later: dict[str, list[int]] = {}  # per player: [points, count] of the events after the frame
    out = []
    for start, end in reversed(bounds):  # from the end: what comes later is summed first
        run = events[start:end]
        players = [_player_at(final[n], later.get(n), last_of[n] < end) for n in _names(run) if n in final]
        teams = [team_final[k] for k in dict.fromkeys(map(_team_key, run)) if k in team_final and team_last_of[k] < end]
        if end == len(events):  # records no event names: with the run's last frame
            players += [p for name, p in final.items() if name not in last_of]
        part_game = {
            **game,
            "last_seq": run[-1]["seq"],
            "events": game["events"] - sum(c for _, c in later.values()),
            "points": game["points"] - sum(p for p, _ in later.values()),
        }
        text = frames.events_text(
            events_json="[" + ",".join(encoded[start:end]) + "]",
            players=players,
            game=part_game,
            teams=teams,
            resumed=resumed,
        )
        out.append((run[0]["seq"], run[-1]["seq"], text))
        for e in run:
            sums = later.setdefault(e["player"], [0, 0])
            sums[0] += e["points"]
            sums[1] += 1
    out.reverse()
    return out


def _names(run: list[dict]) -> list[str]:
    return list(dict.fromkeys(e["player"] for e in run))


def _player_at(record: dict, later: list[int] | None, last: bool) -> dict:
    """A player's record after a frame: the final one if its run ends in it, else its totals
    less the later events' (no stats: those come exact with its last frame)."""
    if last or later is None:
        return record
    partial = {"player": record["player"], "total": record["total"] - later[0], "events": record["events"] - later[1]}
    return {**partial, "team": record["team"]} if "team" in record else partial


def message_text(message: dict) -> str:
    """The `events` frame of one game-group message (stats.live.publish.events_message),
    built from its parts at most once per process: the wire carries the parts alone."""
    text = message.get("text")
    if text is None:
        text = message["text"] = frames.events_text(
            events_json=message["events"], players=message["players"], game=message["game"], teams=message.get("teams")
        )
    return text


def messages_cut(messages: list[dict], limit: int) -> list[tuple[int, int, str]]:
    """The fan-out's frames for contiguous messages (stats.live.publish.events_message): runs
    joined while their texts fit in `limit` bytes (a join is never longer than its parts), a
    run longer alone cut by events_cut."""
    out: list[tuple[int, int, str]] = []
    group: list[dict] = []
    size = 0
    for message in messages:
        length = utf8_len(message_text(message))
        if group and size + length > limit:
            out.append(_joined(group))
            group, size = [], 0
        if length > limit:
            out += events_cut(
                events=json.loads(message["events"]),
                players=message["players"],
                game=message["game"],
                teams=message.get("teams"),
                limit=limit,
            )
            continue
        group.append(message)
        size += length
    if group:
        out.append(_joined(group))
    return out


def _joined(group: list[dict]) -> tuple[int, int, str]:
    if len(group) == 1:
        text = message_text(group[0])
    else:
        text = frames.events_merge([(m["events"], m["players"], m["game"], m.get("teams")) for m in group])
    return group[0]["first_seq"], group[-1]["last_seq"], text

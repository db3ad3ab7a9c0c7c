// History ranges, read from the per-minute rollups: GET /api/games/<slug>/history?range=...

export const RANGE_TITLES = {
  live: ["Events per second", "last 60 seconds"],
  "5m": ["Activity", "last 5 minutes, per-minute rollups"],
  match: ["Activity", "this match, per-minute rollups"],
  today: ["Activity", "today, per-minute rollups"],
};

// matchId: for the "match" range, a match picked (else the open match).
export async function historyFetch(apiBase, range, matchId = null) {
  const match = range === "match" && matchId ? `&match=${encodeURIComponent(matchId)}` : "";
  const response = await fetch(`${apiBase}history?range=${encodeURIComponent(range)}${match}`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

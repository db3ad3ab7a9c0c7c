// History ranges, read from the per-minute rollups: GET /api/games/<slug>/history?range=...

export const RANGE_TITLES = {
  live: ["Events per second", "last 60 seconds"],
  "5m": ["Activity", "last 5 minutes, per-minute rollups"],
  match: ["Activity", "this match, per-minute rollups"],
  today: ["Activity", "today, per-minute rollups"],
};

export async function historyFetch(apiBase, range) {
  const response = await fetch(`${apiBase}history?range=${encodeURIComponent(range)}`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

"""Game stats: the stats a game declares (Nakama-style operators and sort orders), matches and
teams, and the totals kept per stat, player or team, and period, so that no leaderboard ever
scans the event log."""

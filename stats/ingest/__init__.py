"""Ingest: game servers stream events in over a WebSocket (`ws/ingest/<slug>/`), and the
frames of a game that arrive together are committed together (stats.ingest.committer)."""

"""Live chat per game (issue #12): models, the wire shape, services (writes) and selectors
(reads). The WebSocket side (receiving a user's message, sending frames) is stats/live's;
it calls chat_message_post, and the services send signals whose receivers publish the
frames (stats.signals, stats.receivers)."""

"""Operations: Prometheus metrics (metrics.py), health and readiness probes and the /metrics
view (views.py), request timing (middleware.py) and JSON log lines (logformat.py)."""

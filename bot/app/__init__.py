"""Processes: the cli, settings, the embedded Temporal dev server, the worker's wiring and
`bot run` (with its local forge)."""

"""Deterministic Temporal code: shared inputs and ids, the command workflow, the run workflow
(short phases over a pure run state), the status comment, the activity policies; and, apart,
the typed client side that starts, signals, queries and updates them (client.py)."""

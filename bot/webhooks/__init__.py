"""HTTP in: the starlette app (app.py), the webhook core with no I/O (core.py: verify, parse,
route), the comment routes and their payload checks (commands.py, payload_checks.py), and the
workflow starter (starter.py)."""

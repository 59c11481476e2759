"""orchestrate: a GitHub App that plans a task, runs implement/test/docs agents in parallel and
opens one attributed pull request."""

__version__ = "0.1.0"

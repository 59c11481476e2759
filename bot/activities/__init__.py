"""Thin adapters with one error boundary (boundary.py): where the run lives (github.py, over
the Forge protocol), the repository (repo.py), the model (model.py), the agents (agent.py), the
sandboxed tests (tests.py) and other runs (temporal.py). One pydantic input each (inputs.py)."""

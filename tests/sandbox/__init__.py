"""Tests of the sandbox and the environment phase (setup, egress, cache)."""

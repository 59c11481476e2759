"""Tests of the processes: settings, the dev server, start-up."""

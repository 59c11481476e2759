"""Tests of pure data and rules."""

"""Tests of the GitHub edge, against fakehub on loopback."""

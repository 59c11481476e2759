"""Tests of the pure core: data and rules without I/O."""

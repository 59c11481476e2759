"""Where untrusted commands run: bubblewrap with no network, a read-only system and limits; and
the repositories' environments: their setup (network only through the egress proxy), cache."""

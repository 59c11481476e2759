"""Where untrusted commands run: bubblewrap with no network, a read-only system and limits."""

"""The attack suite: a compromised agent, hostile repositories and hostile text, on the real stack."""

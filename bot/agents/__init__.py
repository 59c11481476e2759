"""The agents: tool-use loop, tools and role prompts."""

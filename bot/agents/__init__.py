"""The agents: the tool-use loop over Protocols (ports.py, model.py), the agent runner, the
model client, the planner, prompt assembly with prompts/*.md, and tools/ (editor, paths,
search, run, memory behind one Toolbox)."""

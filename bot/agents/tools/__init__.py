"""An agent's tools: the text editor and its path rules, search (git grep), run (the sandbox)
and memory, behind one Toolbox (box.py); their schemas in definitions.py."""

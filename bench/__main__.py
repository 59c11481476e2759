"""`python -m bench <name>`: run one benchmark and print its JSON figures."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys

BENCHMARKS = {
    "webhook": "bench.webhook",
    "orchestrate": "bench.orchestrate",
    "environment": "bench.environment",
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    args, rest = parser.parse_known_args()
    module = importlib.import_module(BENCHMARKS[args.name])
    figures = asyncio.run(module.run(rest))
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

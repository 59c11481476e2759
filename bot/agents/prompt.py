"""The request pieces of a run's agents: the shared, cached prefix and each agent's first message.

Prompt caching reads a prefix only when it is byte-identical, in the order tools → system →
messages. So everything role-neutral (tool definitions, system text, repository summary, plan,
contract) is built once per run by `SharedContext.build`, deterministically, and the breakpoint
(`cache_control`) sits on its last block; all that differs between agents comes after it, in
the first user message. Prompt text lives in `prompts/*.md`, filled by `render`.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from bot.agents.tools.definitions import tool_definitions
from bot.core.memory import Note
from bot.core.plan import Plan, Role, SubTask
from bot.core.repo_config import RepoConfig
from bot.core.untrusted import clean, data_block, wrap

__all__ = ["SharedContext", "agent_prompt", "memory_update", "render", "role_tag", "warm_request"]

CACHE_CONTROL = {"type": "ephemeral"}
MAX_SUMMARY_CHARS = 40_000
# The Messages API docs: `max_tokens: 0` populates the prompt cache without generating.
WARM_MAX_TOKENS = 0


@functools.cache
def _template(name: str) -> Template:
    text = (resources.files("bot.agents") / "prompts" / f"{name}.md").read_text(encoding="utf-8")
    return Template(text.strip())


def render(name: str, **values: str) -> str:
    """The template `prompts/<name>.md` with every `$placeholder` filled (missing: KeyError)."""
    return _template(name).substitute(values)


@dataclass(frozen=True)
class SharedContext:
    """What every agent of a run sends first; `request` copies it so no caller can alter it."""

    tools: tuple[dict[str, Any], ...]
    system: tuple[dict[str, Any], ...]
    test_command: str

    @classmethod
    def build(
        cls, plan: Plan, repo_summary: str, config: RepoConfig | None = None
    ) -> SharedContext:
        test_command = (config.test_command if config else None) or plan.test_command
        plan_json = json.dumps(
            plan.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False
        )
        system = (
            {"type": "text", "text": render("system")},
            {
                "type": "text",
                "text": data_block("repository_summary", repo_summary, limit=MAX_SUMMARY_CHARS),
            },
            {
                "type": "text",
                "text": wrap("plan", plan_json)
                + f"\n\nTest command: `{test_command or '(none configured)'}`",
                "cache_control": dict(CACHE_CONTROL),
            },
        )
        return cls(tools=tuple(tool_definitions()), system=system, test_command=test_command)

    def request(
        self, *, model: str, messages: list[dict[str, Any]], max_tokens: int
    ) -> dict[str, Any]:
        """Keyword arguments for `messages.create` with this prefix."""
        return {
            "model": model,
            "max_tokens": max_tokens,
            "tools": copy.deepcopy(list(self.tools)),
            "system": copy.deepcopy(list(self.system)),
            "messages": messages,
        }


def warm_request(shared: SharedContext, model: str) -> dict[str, Any]:
    """A request that writes the shared prefix to the cache before the agents start."""
    messages = [{"role": "user", "content": render("warm")}]
    return shared.request(model=model, messages=messages, max_tokens=WARM_MAX_TOKENS)


def role_tag(role: Role) -> str:
    return f"<role>{role.value}</role>"


def agent_prompt(
    role: Role,
    subtask: SubTask | None,
    *,
    test_command: str = "",
    feedback: str = "",
    conflict_files: Sequence[str] = (),
) -> str:
    """The first user message of an agent: role, role prompt, subtask, fix or conflict notes."""
    parts = [role_tag(role), render(role.value)]
    if subtask is not None:
        acceptance = "\n".join(f"- {item}" for item in subtask.acceptance)
        files = ", ".join(f"`{name}`" for name in subtask.files) or "(none named)"
        parts.append(render("subtask", goal=subtask.goal, acceptance=acceptance, files=files))
    if feedback:
        # Already trimmed by the workflow (decisions.trim_output); only the generic cap here.
        output = data_block("test_output", feedback)
        parts.append(render("fix", test_command=test_command or "(none)", output=output))
    if conflict_files:
        listed = "\n".join(f"- `{clean(name, limit=300)}`" for name in conflict_files)
        parts.append(render("conflict", files=listed))
    return "\n\n".join(parts)


def memory_update(notes: Sequence[Note]) -> str:
    """The block that tells an agent about the other agents' new notes."""
    lines = []
    for note in notes:
        value = clean(note.value).replace("\n", "\n  ")
        lines.append(f"- {note.key} ({note.agent}, v{note.version}): {value}")
    return wrap("memory-update", render("memory_update", notes="\n".join(lines)))

"""The model as the agents see it: their own reply type, the `ModelClient` protocol, and the
Anthropic adapter (one Messages API call, SDK errors mapped to ModelError at this boundary; the
SDK's types never leave this module).

The SDK's own retries are off (`max_retries=0`): the callers retry the same request
(agents/retry.py), told by `ModelError.retryable` whether trying again can help and by
`ModelError.retry_after` how long the API asked them to wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
from anthropic.types import Message

from bot.core.ratelimits import MAX_RETRY_DELAY_S, model_retry_delay
from bot.core.usage import Usage
from bot.errors import ModelError

__all__ = ["AnthropicModel", "ModelClient", "ModelReply", "OtherBlock", "TextBlock", "ToolUse"]

DEFAULT_TIMEOUT_S = 600.0
_MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class TextBlock:
    text: str

    def to_param(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ToolUse:
    """A tool call of the model; `input` is whatever JSON it sent (checked by the tool)."""

    id: str
    name: str
    input: Any

    def to_param(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class OtherBlock:
    """A block the agents do not act on (e.g. thinking), sent back as it came."""

    param: dict[str, Any]

    def to_param(self) -> dict[str, Any]:
        return dict(self.param)


Block = TextBlock | ToolUse | OtherBlock


@dataclass(frozen=True)
class ModelReply:
    """One answer of the model: its blocks in order, why it stopped, and what it cost."""

    content: tuple[Block, ...]
    stop_reason: str | None
    usage: Usage

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.content if isinstance(b, TextBlock)).strip()

    @property
    def tool_uses(self) -> list[ToolUse]:
        return [block for block in self.content if isinstance(block, ToolUse)]

    def params(self) -> list[dict[str, Any]]:
        """The blocks as request parameters, to send the answer back in the conversation."""
        return [block.to_param() for block in self.content]


class ModelClient(Protocol):
    async def create(self, **request: Any) -> ModelReply:
        """One `messages.create` call; raises ModelError."""
        ...


def is_retryable_status(status: int) -> bool:
    """Rate limits, overload, timeouts and server errors pass; a bad request does not."""
    return status in (408, 409, 429) or status >= 500


class AnthropicModel:
    """ModelClient over `anthropic.AsyncAnthropic`; `base_url` for any Messages API server."""

    def __init__(
        self, *, api_key: str, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self._api_key = api_key
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    async def create(self, **request: Any) -> ModelReply:
        try:
            message: Message = await self._client.messages.create(**request)
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            detail = f"{exc.type or 'error'}: {exc.api_message or 'no message'}"
            headers = dict(exc.response.headers.items())
            raise ModelError(
                self._safe(f"Messages API answered {status} ({detail})"),
                retryable=is_retryable_status(status),
                status=status,
                retry_after=model_retry_delay(
                    status, headers, now=time.time(), maximum=MAX_RETRY_DELAY_S
                ),
            ) from None  # `from None`: the SDK error's repr holds the request and its headers
        except anthropic.APIConnectionError as exc:
            kind = "timed out" if isinstance(exc, anthropic.APITimeoutError) else "failed"
            raise ModelError(f"Messages API connection {kind}", retryable=True) from None
        except anthropic.APIResponseValidationError:
            raise ModelError("Messages API returned a response of unexpected shape") from None
        except anthropic.AnthropicError as exc:
            raise ModelError(self._safe(f"Messages API call failed: {exc}")) from None
        return _reply(message)

    async def close(self) -> None:
        await self._client.close()

    def _safe(self, text: str) -> str:
        """Capped, and with the key removed should a server ever echo it back."""
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return text[:_MAX_MESSAGE_CHARS]


def _reply(message: Message) -> ModelReply:
    blocks: list[Block] = []
    for block in message.content:
        if block.type == "text":
            blocks.append(TextBlock(block.text))
        elif block.type == "tool_use":
            blocks.append(ToolUse(block.id, block.name, block.input))
        else:
            blocks.append(OtherBlock(block.model_dump(mode="json", exclude_none=True)))
    usage = message.usage  # cache fields are None when a server does not report them
    return ModelReply(
        content=tuple(blocks),
        stop_reason=message.stop_reason,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        ),
    )

"""Fakes that tests run against: a scripted Anthropic Messages API server on loopback."""

from tests.fakes.messages_api import classify_request
from tests.fakes.model_faults import ModelArrival, ServedUsage
from tests.fakes.model_server import (
    RecordedRequest,
    Script,
    ScriptedModel,
    ToolCall,
    Turn,
)

__all__ = [
    "ModelArrival",
    "RecordedRequest",
    "Script",
    "ScriptedModel",
    "ServedUsage",
    "ToolCall",
    "Turn",
    "classify_request",
]

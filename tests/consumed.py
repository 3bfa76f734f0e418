"""What the agents' runtime reads of a consumed record (Faust's event and its message), for tests
that drive AgentRuntime.process without a broker in between."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass
class Event:
    message: Message

    @property
    def value(self) -> bytes:
        return self.message.value

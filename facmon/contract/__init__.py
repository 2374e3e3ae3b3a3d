"""The wire contract: every topic and envelope facmon components exchange over MQTT.

All components import this package; nothing else builds a topic string or parses a payload.
"""

from facmon.contract.envelopes import (
    ENVELOPES,
    MAX_PAYLOAD_BYTES,
    RESERVED_NAMES,
    RESERVED_PREFIX,
    AlertEnvelope,
    CommandEnvelope,
    CommandResultEnvelope,
    DataEnvelope,
    DeadLetterEnvelope,
    Envelope,
    EventEnvelope,
    MetersEnvelope,
    Scalar,
    StateEnvelope,
    StatusEnvelope,
    UsageEnvelope,
    parse_envelope,
)
from facmon.contract.errors import ContractError, EnvelopeError, TopicError
from facmon.contract.topics import (
    DEFAULT_PREFIX,
    VERSION,
    Topic,
    TopicKind,
    check_slug,
    everything,
    is_slug,
    shared,
    subscription,
)

__all__ = [
    "DEFAULT_PREFIX",
    "ENVELOPES",
    "MAX_PAYLOAD_BYTES",
    "RESERVED_NAMES",
    "RESERVED_PREFIX",
    "VERSION",
    "AlertEnvelope",
    "CommandEnvelope",
    "CommandResultEnvelope",
    "ContractError",
    "DataEnvelope",
    "DeadLetterEnvelope",
    "Envelope",
    "EnvelopeError",
    "EventEnvelope",
    "MetersEnvelope",
    "Scalar",
    "StateEnvelope",
    "StatusEnvelope",
    "Topic",
    "TopicError",
    "TopicKind",
    "UsageEnvelope",
    "check_slug",
    "everything",
    "is_slug",
    "parse_envelope",
    "shared",
    "subscription",
]

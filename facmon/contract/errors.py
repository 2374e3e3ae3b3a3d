"""Errors raised by the wire contract."""


class ContractError(ValueError):
    """Something on the wire does not follow the contract; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        """Keep the one-line ``reason`` for dead letters and logs."""
        super().__init__(reason)
        self.reason = reason


class TopicError(ContractError):
    """A topic (or an identifier meant for one) is malformed."""


class EnvelopeError(ContractError):
    """A payload is not a valid envelope for its topic."""

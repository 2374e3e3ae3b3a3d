"""Format records as InfluxDB line protocol (pure).

Escaping follows the line protocol reference: in measurements, commas and spaces; in tag
keys, tag values and field keys, commas, equals signs and spaces; in string field values,
double quotes and backslashes. Timestamps are epoch milliseconds (``precision=ms``).
"""

from __future__ import annotations

from collector.record import Record

SEQ_FIELD = "facmon_seq"
"""Field holding the gateway's sequence number, to count loss end to end."""
BAD_FIELD = "facmon_bad"
"""String field listing, comma-separated, the points whose read failed."""

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\"})  # a newline inside the quotes is taken as is


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    return text.translate(_KEY)


def field_value(value: bool | int | float | str) -> str:
    """Format one field value: ``1.5``, ``3i``, ``true``, ``"text"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.translate(_STRING) + '"'


def to_line(record: Record) -> str:
    """Return the record as one line (no trailing newline); tags are sorted by key."""
    envelope = record.envelope
    tags = f"device={escape_key(record.device)},gateway={escape_key(record.gateway)}"
    tags += f",site={escape_key(record.site)}"
    fields = [f"{escape_key(name)}={field_value(value)}" for name, value in envelope.values.items()]
    fields.append(f"{SEQ_FIELD}={envelope.seq}i")
    bad = sorted(name for name, flag in envelope.quality.items() if flag == "bad")
    if bad:
        fields.append(f"{BAD_FIELD}={field_value(','.join(bad))}")
    return f"{envelope.measurement.translate(_MEASUREMENT)},{tags} {','.join(fields)} {envelope.ts}"

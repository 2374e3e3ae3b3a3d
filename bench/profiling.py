"""py-spy's samples of a benchmarked process as Markdown tables (gateway and end-to-end)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

_GENERIC_FRAMES = ("asyncio/", "typer/", "click/", "launcher/cli.py", "<module>", "threading.py")
"""Frames every stack passes through, left out of the inclusive table."""


def profile_tables(raw: str, header: str, top_own: int = 10, top_inclusive: int = 12) -> str:
    """py-spy's raw (collapsed) stacks as two Markdown tables under ``header``: % of samples
    by own time and by inclusive time (the event loop, threading and CLI frames left out)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue  # --nonblocking sampling can read a torn frame: skip it
        count = int(count_text)
        frames = [_short_frame(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if not any(generic in frame for generic in _GENERIC_FRAMES):
                inclusive[frame] += count
    if not total:
        return "(py-spy: no samples)"
    return "\n".join(
        [
            f"py-spy, {total} samples over {header}, % of samples:",
            "",
            "| self % | function |",
            "|---|---|",
            *(f"| {100 * n / total:.1f} | `{f}` |" for f, n in own.most_common(top_own)),
            "",
            "| inclusive % | function |",
            "|---|---|",
            *(
                f"| {100 * n / total:.1f} | `{f}` |"
                for f, n in inclusive.most_common(top_inclusive)
            ),
        ]
    )


def _short_frame(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (dir/file.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:]) if parts else path})"

"""How a long wait shows that something is happening: a log line at a few moments.

A deferred wait otherwise logs ``... is queued``, then silence until ``... is succeeded``.
:class:`WaitProgress` picks the moments worth a line (not every poll, which may be every few
seconds for thousands of waits): the first answer, each quarter of the upstream's ``progress``
crossed, and the time waited passing 1, 2, 5, 10, 20, 30 minutes and then each hour.  Each line
says the status, the progress, the upstream's own estimate when it gives one, and the time
waited.  Pure: no clock and no I/O of its own (the trigger passes the time in).
"""

from __future__ import annotations

from typing import Any

#: Minutes waited at which a line is logged (then every 60 minutes).
WAITED_MINUTES = (1, 2, 5, 10, 20, 30, 60)
#: Progress marks (percent) at which a line is logged.
PROGRESS_MARKS = (25, 50, 75)


def span(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class WaitProgress:
    """The few moments of one wait worth a log line, and the line."""

    def __init__(self, started: float) -> None:
        self.started = started
        self._said_first = False
        self._marks_passed = 0
        self._minutes_passed = 0

    def _waited_mark(self, minutes: float) -> int:
        passed = sum(1 for mark in WAITED_MINUTES if minutes >= mark)
        if minutes >= WAITED_MINUTES[-1]:
            passed += int(minutes // 60) - 1
        return passed

    def line(self, generation: Any, now: float) -> str | None:
        """The line to log after this answer, or None (most polls)."""
        waited = now - self.started
        progress = generation.progress
        marks = sum(1 for mark in PROGRESS_MARKS if progress is not None and progress >= mark)
        minutes = self._waited_mark(waited / 60)
        worth = not self._said_first or marks > self._marks_passed or minutes > self._minutes_passed
        self._marks_passed = max(self._marks_passed, marks)
        self._minutes_passed = max(self._minutes_passed, minutes)
        if not worth or generation.is_terminal:
            self._said_first = True
            return None
        self._said_first = True
        parts = [f"generation {generation.generation_id} is {generation.status}"]
        if progress is not None:
            parts.append(f"{progress}% done")
        estimate = generation.estimated_seconds
        if estimate:
            text = f"the upstream estimates {span(estimate)} in all"
            if generation.created_at is not None:
                left = generation.created_at + estimate - now
                text += f" ({span(left)} left)" if left > 0 else " (past its estimate)"
            parts.append(text)
        parts.append(f"waited {span(waited)}")
        return ", ".join(parts)

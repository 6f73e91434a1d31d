"""The retry sensor's memory, kept in its cursor: where it read up to, and the retries still due."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class PendingRetry:
    """A partition to re-run once `due` (epoch seconds) has passed."""

    attempt: int
    """Which retry this is: 1 for the first re-run after the original run failed."""
    due: float
    failed_run_id: str
    """The run that failed last: the retry copies its partition, range and run config."""


@dataclass
class RetryState:
    """Run-status events read up to `after_storage_id`; pending retries by partition."""

    after_storage_id: int | None = None
    pending: dict[str, PendingRetry] = field(default_factory=dict)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> RetryState:
        """The state a previous tick saved, or a fresh one."""
        if not cursor:
            return cls()
        try:
            saved = json.loads(cursor)
            pending = {key: PendingRetry(**retry) for key, retry in saved["pending"].items()}
            return cls(saved["after_storage_id"], pending)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"the retry sensor's cursor {cursor[:200]!r} is not one it wrote ({exc}); "
                "clear the cursor in the UI (Sensors > daily_bars_retry_sensor) to start afresh"
            ) from None

    def to_cursor(self) -> str:
        pending = {key: asdict(retry) for key, retry in sorted(self.pending.items())}
        return json.dumps({"after_storage_id": self.after_storage_id, "pending": pending})

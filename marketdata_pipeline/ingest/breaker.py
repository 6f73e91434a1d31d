"""Stop a fetch once the server stops answering, instead of timing out symbol by symbol.

Without it a hanging or dead server costs every remaining symbol its full
retries and timeouts (minutes for one batch). After `threshold` calls in a
row failed on the transport, on the pool, with a system error (10005001) or
with an answer code this client does not know, with no success between them,
the breaker opens: work not yet started is not sent, and those symbols are
reported as failures that name the last error. One success resets the count,
so scattered drops never open it. Answers that mean "stop" (`StopError`:
blacklisted, credentials rejected, budget spent) never get here: `calls`
raises them and the whole run ends at once.
"""

from __future__ import annotations

from marketdata_pipeline.baostock.errors import AnswerError, ServerError, TransportError
from marketdata_pipeline.ingest.calls import Call
from marketdata_pipeline.pool.errors import PoolError

NOT_TRIED = "NotTried"


class Breaker:
    """Counts consecutive outage failures; `open` once they reach `threshold`."""

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.streak = 0
        self.last_error: Exception | None = None

    def record(self, call: Call) -> None:
        if call.ok or not _outage(call.error):
            self.streak = 0
            return
        self.streak += 1
        self.last_error = call.error

    @property
    def open(self) -> bool:
        return self.streak >= self.threshold

    def reason(self) -> str:
        """Why work was not sent, for the failures of the symbols left out."""
        last = self.last_error
        return (
            f"not tried: the last {self.streak} requests failed in a row, the server is not answering "
            f"(last error {type(last).__name__}: {last})"
        )


def _outage(error: Exception | None) -> bool:
    """The server is not serving: transport or pool failures, system errors, codes nobody documents."""
    return isinstance(error, TransportError | PoolError | ServerError) or type(error) is AnswerError

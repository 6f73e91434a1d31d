"""A local BaoStock-compatible TCP server over a deterministic synthetic market.

The server speaks the real server's frames (header version ``00.9.00``), so
the official ``baostock`` client works against it unchanged once
``baostock.common.contants.BAOSTOCK_SERVER_IP``/``BAOSTOCK_SERVER_PORT`` point
at it. Production code never imports this package; tests, the CLI
(``marketdata simulator``) and the demo start it.

Python API::

    Simulator(host="127.0.0.1", port=0, *, seed=0, today=None, latency_ms=0, jitter_ms=0,
              drop_rate=0, hang_rate=0, corrupt_rate=0, error_rate=0, error_code="10005001",
              max_logins=None, idle_close_s=None, anomalies=None)
    .start() -> Simulator   # returns once accepting; port 0 picks a free port
    .stop()                 # closes the listener and every connection, joins threads
    .restart()              # stop, then listen again on the same port
    with Simulator(...) as sim: ...
    .address -> (host, port)
    .faults                 # Faults: latency_ms, jitter_ms, drop_rate, hang_rate, corrupt_rate,
                            # error_rate, error_code, max_logins, idle_close_s - settable live
    .kill_connections()     # drop every live connection (the server died mid-use)
    .stats() -> dict        # logins, logouts, active_logins, peak_active_logins, connections,
                            # active_connections, requests, requests_by_method, errors_sent,
                            # dropped, hung, corrupted, idle_closed, login_refused

Faults apply per request, drawn from an RNG seeded with ``seed``: hang (never
answer, hold the connection), drop (send half the answer, then close), error
(answer type 04 with ``error_code``), corrupt (flip bytes inside a compressed
body and its checksum, or change an uncompressed answer's CRC); ``latency_ms``
+ uniform ``jitter_ms`` delay every answer; ``max_logins`` caps concurrent
logged-in sessions (10001005 beyond it; logout or disconnect frees a slot);
``idle_close_s`` closes a connection idle that long.

Anomalies (``anomalies=["price_limits:0.02", "revision"]`` or ``{"volume_units": 0.05}``;
the CLI's repeatable ``--anomaly KIND[:RATE]``, rate 0.02 by default) make the market's data
wrong the way real mirrors go wrong, one kind per reconciliation check of ``daily_bars``, plus
``revision`` (values of a day change once a later day is published); see ``anomalies``. The
rows each kind alters are a pure function of (seed, kind, code, day), so per-symbol and
whole-market answers agree; ``.injected(kind, codes, lo, hi)`` on the answers' market lists them.

Market: the real universe of 5,638 codes (541 indices, 5,097 A-shares) from the
captured ``query_all_stock`` frame, the XSHG calendar, bars from 2005-01-04 on,
each symbol with an IPO date, maybe a delisting (outDate), suspensions, ST
spells (+/-5% limits; 20% boards sz.300/301, sh.688 keep 20%), and yearly
ex-dates with back/forward factors. Values are pure functions of (seed, code,
day), computed on demand from the day's own month (see ``prices``); memory is
bounded: three floats per symbol and month once a symbol is touched (at most
~40 MB for the universe), an LRU of 1,024 symbol-years (~30 MB) and one of 4
whole-market days (~6 MB each). Measured resident size of a standalone server:
~100 MB after start, ~175 MB after a whole-market day and a 10-year symbol. ``today`` (a date: that whole
day is published; a datetime or None = the live Asia/Shanghai clock) limits
what is published: bars of a trading day from 17:30, adjust factors from
18:00. ``query_daily_adjust_factor(date)`` lists the A-shares whose ex-date is
that date.
"""

from marketdata_pipeline.simulator.faults import Faults
from marketdata_pipeline.simulator.server import Simulator

__all__ = ["Faults", "Simulator"]

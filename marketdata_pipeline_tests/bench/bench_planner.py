"""Measure the planner's cost weights against the simulator at 20 ms latency, and check the model.

Run: `make bench` or `python -m marketdata_pipeline_tests.bench planner` (about a minute).

1. Weights: on one session (no overlap), the median time of three request
   shapes - a whole-market day (~5,050 rows), a 5-day range and a one-year
   range of one symbol - fitted by least squares to `t = request_s + rows x row_s`.
2. Check: `fetch_daily_bars` on 4 workers with each strategy forced, for a
   few shapes of one batch, next to what the model predicts with the fitted
   weights. The planner only needs the order right, not the seconds.
3. Speed-up: `fetch_daily_bars` (planner's choice, 4 workers) against one
   session asking symbol by symbol, as a script on the official client does,
   on the same simulator, side by side.
"""

from __future__ import annotations

import statistics
import time
from datetime import date

from marketdata_pipeline.baostock.pool import BaoStockPool
from marketdata_pipeline.baostock.session import BaoStockSession
from marketdata_pipeline.ingest import fetch_daily_bars, plan_fetch
from marketdata_pipeline.ingest.bars import DAILY_FIELDS_CSV, daily_rows
from marketdata_pipeline.ingest.planner import CostModel, estimate
from marketdata_pipeline.simulator import Simulator

TODAY = date(2024, 12, 31)
LATENCY_MS = 20
WORKERS = 4
SHAPES = [(1, 320), (5, 320), (20, 320), (60, 40)]  # (days, symbols)


def _timed(call) -> tuple[float, int]:
    started = time.perf_counter()
    rows = len(daily_rows(call(), "measure"))
    return time.perf_counter() - started, rows


def measure_shapes(session: BaoStockSession, days: list[str], codes: list[str]) -> list[tuple[int, float]]:
    """(rows, median seconds) of the three request shapes, each sample asking for data not asked before.

    A run asks for each day or symbol once, so samples are cold: the
    simulator generates what it serves, as a real server reads it from storage.
    Only the simulator's one-off start-up (building the market) is paid first.
    """
    session.query_daily_history_k_AStock(days[0])
    half = len(codes) // 2
    shapes = {
        "market": [lambda d=d: session.query_daily_history_k_AStock(d) for d in days[-10:]],
        "symbol 5 days": [
            lambda c=c: session.query_history_k_data_plus(c, DAILY_FIELDS_CSV, days[-5], days[-1])
            for c in codes[:half]
        ],
        "symbol 1 year": [
            lambda c=c: session.query_history_k_data_plus(c, DAILY_FIELDS_CSV, days[0], days[-1])
            for c in codes[half:]
        ],
    }
    points = []
    for name, calls in shapes.items():
        samples = [_timed(call) for call in calls]
        seconds = statistics.median(s for s, _ in samples)
        rows = int(statistics.median(r for _, r in samples))
        print(f"  {name:<14} {rows:>6} rows  {seconds * 1000:8.1f} ms median of {len(samples)}")
        points.append((rows, seconds))
    return points


def fit(points: list[tuple[int, float]]) -> CostModel:
    """Least squares of `t = request_s + rows x row_s` over the measured points."""
    xs, ys = [float(r) for r, _ in points], [s for _, s in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return CostModel(request_s=max(mean_y - slope * mean_x, 0.0), row_s=max(slope, 0.0))


def check_model(pool: BaoStockPool, model: CostModel, days: list[date], codes: list[str]) -> None:
    print(f"  {'shape':<16} {'strategy':<8} {'predicted s':>11} {'measured s':>10} {'requests':>8}")
    for n_days, n_symbols in SHAPES:
        picked = plan_fetch(n_symbols, n_days, WORKERS, model=model).strategy
        for strategy in ("market", "symbol"):
            predicted = estimate(strategy, n_symbols, n_days, WORKERS, model).seconds
            report = fetch_daily_bars(
                pool, codes[:n_symbols], days[-n_days:], strategy=strategy, max_workers=WORKERS
            )
            mark = " <- planner" if strategy == picked else ""
            print(
                f"  {n_days:>3}d x {n_symbols:<4} sym {strategy:<8} {predicted:11.2f} "
                f"{report.duration_s:10.2f} {report.requests:8}{mark}"
            )


def compare_with_one_session(pool: BaoStockPool, host: str, port: int, days: list[date], codes: list[str]):
    print(f"  {'shape':<16} {'one session s':>13} {'fetch_daily_bars s':>18} {'ratio':>6}")
    for n_days, n_symbols in [(1, 320), (5, 320)]:
        window = days[-n_days - 20 : -20]  # days not fetched by the check above: cold on both sides
        started = time.perf_counter()
        with BaoStockSession(host, port, request_timeout=120) as session:
            for code in codes[:n_symbols]:
                session.query_history_k_data_plus(
                    code, DAILY_FIELDS_CSV, window[0].isoformat(), window[-1].isoformat()
                )
        serial = time.perf_counter() - started
        report = fetch_daily_bars(pool, codes[:n_symbols], window, max_workers=WORKERS)
        print(
            f"  {n_days:>3}d x {n_symbols:<4} sym {serial:13.2f} {report.duration_s:18.2f} "
            f"{serial / report.duration_s:5.1f}x ({report.strategy})"
        )


def run() -> None:
    with Simulator(seed=0, today=TODAY, latency_ms=LATENCY_MS) as simulator:
        host, port = simulator.address
        with BaoStockSession(host, port, request_timeout=120) as session:
            calendar = session.query_trade_dates("2024-01-01", TODAY.isoformat()).rows
            days = [day for day, trading in calendar if trading == "1"]
            basic = session.query_stock_basic().rows
            codes = sorted(row[0] for row in basic if row[4] == "1" and row[3] == "")  # A-shares, listed
            print(f"weights, one session, {LATENCY_MS} ms latency:")
            model = fit(measure_shapes(session, days, codes[1::50]))
        print(f"  fitted: request_s={model.request_s:.4f} s, row_s={model.row_s * 1e6:.1f} us")
        print(f"check, {WORKERS} workers:")
        with BaoStockPool([(host, port)], max_size=WORKERS, request_timeout=120) as pool:
            trading = [date.fromisoformat(day) for day in days]
            check_model(pool, model, trading, codes[::15])
            print(f"speed-up over one session asking symbol by symbol, {LATENCY_MS} ms latency:")
            compare_with_one_session(pool, host, port, trading, codes[7::15])


if __name__ == "__main__":
    run()

"""The planner's cost model: which strategy wins where, and why it says so."""

import pytest

from marketdata_pipeline.ingest.planner import CostModel, estimate, plan_fetch


@pytest.mark.parametrize(
    ("n_days", "n_symbols", "workers", "expected"),
    [
        (1, 320, 4, "market"),  # one batch, one day: 1 request beats 320
        (5, 5_097, 4, "market"),  # whole market, a week: 5 requests beat 5,097
        (250, 320, 4, "symbol"),  # one batch, a year: 320 small ranges beat 250 x 5,100 rows
        (250, 5_097, 4, "market"),  # whole market, a year: rows equal, far fewer round trips
        (20, 1, 4, "symbol"),  # one symbol: its own range, not 20 whole markets
    ],
)
def test_plan_picks_the_cheaper_strategy(n_days, n_symbols, workers, expected):
    plan = plan_fetch(n_symbols, n_days, workers)
    assert plan.strategy == expected
    market = estimate("market", n_symbols, n_days, workers, CostModel())
    symbol = estimate("symbol", n_symbols, n_days, workers, CostModel())
    chosen, other = (market, symbol) if expected == "market" else (symbol, market)
    assert chosen.seconds < other.seconds
    assert plan.estimated_requests == chosen.requests
    assert plan.reason.startswith(f"{n_days} days x {n_symbols} symbols on {workers} workers: {expected}:")


def test_estimates_count_requests_and_pages():
    model = CostModel(page_rows=2_000, market_rows=5_000)
    assert estimate("market", 320, 250, 4, model).requests == 250
    assert estimate("market", 320, 250, 4, model).rows == 250 * 5_000
    assert estimate("symbol", 320, 250, 4, model).requests == 320
    assert estimate("symbol", 3, 4_001, 4, model).requests == 3 * 3  # 4,001 days = 3 pages each
    assert estimate("symbol", 3, 4_001, 4, model).rows == 3 * 4_001


def test_more_workers_tip_the_balance_towards_symbols():
    # 10 days x 320 symbols: one worker cannot hide 320 round trips, eight can.
    assert plan_fetch(320, 10, 1).strategy == "market"
    assert plan_fetch(320, 10, 8).strategy == "symbol"


def test_weights_are_parameters():
    free_round_trips = CostModel(request_s=0.0, row_s=1e-6)
    assert plan_fetch(320, 1, 4, model=free_round_trips).strategy == "symbol"
    free_rows = CostModel(request_s=0.02, row_s=0.0)
    assert plan_fetch(320, 250, 4, model=free_rows).strategy == "market"


@pytest.mark.parametrize("forced", ["market", "symbol"])
def test_a_forced_strategy_is_kept_and_explained(forced):
    plan = plan_fetch(320, 250, 4, strategy=forced)
    assert plan.strategy == forced
    assert "forced by caller" in plan.reason
    assert plan.estimated_requests == (250 if forced == "market" else 320)


def test_nothing_to_fetch_costs_nothing():
    plan = plan_fetch(0, 5, 4)
    assert plan.estimated_requests == 0
    assert "nothing to fetch" in plan.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "fastest"}, "strategy='fastest' is not one of auto, market, symbol"),
        ({"max_workers": 0}, "max_workers must be >= 1"),
        ({"n_days": -1}, "n_symbols and n_days must be >= 0"),
    ],
)
def test_bad_plan_input_names_the_fix(kwargs, message):
    args = {"n_symbols": 10, "n_days": 5, "max_workers": 4} | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        plan_fetch(**args)


def test_cost_model_refuses_negative_weights():
    with pytest.raises(ValueError, match="weights must be >= 0"):
        CostModel(request_s=-1)

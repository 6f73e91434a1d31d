"""The k-data fields BaoStock serves at each frequency, in the order its answers list them.

One definition for the client's validation, the ingest layer and the simulator.
Weekly/monthly and minute fields are those the official client's demos list
(baostock/demo/demo_A_stock_5mk-data.py).
"""

DAILY_FIELDS: tuple[str, ...] = (
    "date", "code", "open", "high", "low", "close", "preclose", "volume", "amount", "adjustflag",
    "turn", "tradestatus", "pctChg", "peTTM", "psTTM", "pcfNcfTTM", "pbMRQ", "isST",
)  # fmt: skip
PERIOD_FIELDS: tuple[str, ...] = (
    "date", "code", "open", "high", "low", "close", "volume", "amount", "adjustflag", "turn", "pctChg",
)  # fmt: skip
MINUTE_FIELDS: tuple[str, ...] = (
    "date", "time", "code", "open", "high", "low", "close", "volume", "amount", "adjustflag",
)  # fmt: skip
FIELDS_BY_FREQUENCY: dict[str, tuple[str, ...]] = {
    "d": DAILY_FIELDS,
    **dict.fromkeys(("w", "m"), PERIOD_FIELDS),
    **dict.fromkeys(("5", "15", "30", "60"), MINUTE_FIELDS),
}

"""The BaoStock answers the warehouse accepts: their exact columns, which are required, and their types.

- daily bars: `query_history_k_data_plus` / `query_daily_history_k_AStock` rows with every daily
  field, unadjusted (adjustflag 3). Either query gives the same stored row: a suspended day's volume
  and amount are stored as 0 (the whole-market answer sends them empty, or a stale volume).
- adjust factors: `query_adjust_factor` rows.
- stock universe: `query_all_stock(day)` rows (code, tradeStatus, code_name) left-joined on code
  with `query_stock_basic` (ipoDate, outDate, type, status; "" where stock_basic has no row).
- trade calendar: `query_trade_dates` rows.
"""

from __future__ import annotations

from marketdata_pipeline.storage.incoming import Field, Kind, RowSpec

_PRICE = "yuan, unadjusted (adjust with daily_bars_qfq/hfq); on a suspended day the last close"
_RATIO = "from BaoStock; NULL on a suspended day"

# The one definition of each table's columns: the DDL (schema.py, the stage), the validation and
# typing of incoming strings (incoming.py), the reader's dtypes and the data dictionary shown in
# Dagster all read it.
DAILY_BARS = RowSpec(
    name="daily bars",
    fields=(
        Field("date", "trade_date", Kind.DATE, required=True, description="Trading day (Asia/Shanghai)."),
        Field("code", "code", Kind.CODE, required=True, description="BaoStock code: sh.600000, sz.000001."),
        Field("open", "open", Kind.DOUBLE, description=f"Opening price, {_PRICE}."),
        Field("high", "high", Kind.DOUBLE, description=f"Highest price, {_PRICE}."),
        Field("low", "low", Kind.DOUBLE, description=f"Lowest price, {_PRICE}."),
        Field("close", "close", Kind.DOUBLE, description=f"Closing price, {_PRICE}."),
        Field(
            "preclose",
            "preclose",
            Kind.DOUBLE,
            description="Previous close in yuan, ex-rights adjusted "
            "by the exchange on an ex-date (the reference of pct_chg and the price limits).",
        ),
        Field(
            "volume",
            "volume",
            Kind.BIGINT,
            when_suspended="0",
            description="Shares traded (shares, not lots of 100); 0 on a suspended day.",
        ),
        Field(
            "amount",
            "amount",
            Kind.DOUBLE,
            when_suspended="0",
            description="Turnover in yuan; 0 on a suspended day.",
        ),
        Field("adjustflag", None, Kind.UNADJUSTED, required=True),
        Field(
            "turn",
            "turn",
            Kind.DOUBLE,
            description="Turnover rate in % of tradable shares; NULL when suspended.",
        ),
        Field(
            "tradestatus",
            "trade_status",
            Kind.FLAG,
            required=True,
            description="1 traded normally, 0 suspended (the row is kept: prices are the last close).",
        ),
        Field("pctChg", "pct_chg", Kind.DOUBLE, description="Change of close vs preclose in % (1.5 = 1.5%)."),
        Field("peTTM", "pe_ttm", Kind.DOUBLE, description=f"Price / earnings, trailing 12 months; {_RATIO}."),
        Field("psTTM", "ps_ttm", Kind.DOUBLE, description=f"Price / sales, trailing 12 months; {_RATIO}."),
        Field(
            "pcfNcfTTM",
            "pcf_ncf_ttm",
            Kind.DOUBLE,
            description=f"Price / net cash flow, trailing 12 months; {_RATIO}.",
        ),
        Field("pbMRQ", "pb_mrq", Kind.DOUBLE, description=f"Price / book, most recent quarter; {_RATIO}."),
        Field(
            "isST",
            "is_st",
            Kind.BOOLEAN,
            description="True when the code is under special treatment (ST or *ST) that day.",
        ),
    ),
    date_column="date",
)

# daily_bars' columns beyond BaoStock's fields: (name, SQL type, description).
DAILY_BARS_WRITE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("batch", "VARCHAR NOT NULL", "Partition batch b00..b15: crc32(code) % 16, stable when codes list."),
    ("ingested_at", "TIMESTAMP NOT NULL", "When the row was written (UTC)."),
)

ADJUST_FACTORS = RowSpec(
    name="adjust factors",
    fields=(
        Field("code", "code", Kind.CODE, required=True),
        Field("dividOperateDate", "divid_operate_date", Kind.DATE, required=True),
        Field("foreAdjustFactor", "fore_adjust_factor", Kind.DOUBLE),
        Field("backAdjustFactor", "back_adjust_factor", Kind.DOUBLE, required=True),
        Field("adjustFactor", "adjust_factor", Kind.DOUBLE),
    ),
    date_column="dividOperateDate",
)

STOCK_UNIVERSE_DAY = "trade_date"
"""The column the writer adds to each day's universe rows to store many days at once."""
# A day's universe rows plus their day, in the stock_universe table's order.
STOCK_UNIVERSE_BY_DAY = RowSpec(
    name="stock universe",
    fields=(
        Field(STOCK_UNIVERSE_DAY, "trade_date", Kind.DATE, required=True, description="Trading day."),
        Field("code", "code", Kind.CODE, required=True, description="BaoStock code: sh.600000, sz.000001."),
        Field("code_name", "code_name", Kind.TEXT, description="Security name that day."),
        Field("tradeStatus", "trade_status", Kind.FLAG, required=True, description="1 trading, 0 suspended."),
        Field(
            "type", "type", Kind.SMALLINT, description="1 stock, 2 index, 3 other, 4 convertible bond, 5 ETF."
        ),
        Field("status", "status", Kind.SMALLINT, description="1 listed, 0 delisted (as of the fetch)."),
        Field("ipoDate", "ipo_date", Kind.DATE, description="Listing date (query_stock_basic)."),
        Field("outDate", "out_date", Kind.DATE, description="Delisting date; NULL while listed."),
    ),
    date_column=STOCK_UNIVERSE_DAY,
)

TRADE_CALENDAR = RowSpec(
    name="trade calendar",
    fields=(
        Field("calendar_date", "calendar_date", Kind.DATE, required=True),
        Field("is_trading_day", "is_trading_day", Kind.BOOLEAN, required=True),
    ),
    date_column="calendar_date",
    code_column=None,
)

"""The BaoStock answers the warehouse accepts: their exact columns, which are required, and their types.

- daily bars: `query_history_k_data_plus` / `query_daily_history_k_AStock` rows with every daily
  field, unadjusted (adjustflag 3).
- adjust factors: `query_adjust_factor` rows.
- stock universe: `query_all_stock(day)` rows (code, tradeStatus, code_name) left-joined on code
  with `query_stock_basic` (ipoDate, outDate, type, status; "" where stock_basic has no row).
- trade calendar: `query_trade_dates` rows.
"""

from __future__ import annotations

from marketdata_pipeline.storage.incoming import Field, Kind, RowSpec

DAILY_BARS = RowSpec(
    name="daily bars",
    fields=(
        Field("date", "trade_date", Kind.DATE, required=True),
        Field("code", "code", Kind.CODE, required=True),
        Field("open", "open", Kind.DOUBLE),
        Field("high", "high", Kind.DOUBLE),
        Field("low", "low", Kind.DOUBLE),
        Field("close", "close", Kind.DOUBLE),
        Field("preclose", "preclose", Kind.DOUBLE),
        Field("volume", "volume", Kind.BIGINT),
        Field("amount", "amount", Kind.DOUBLE),
        Field("adjustflag", None, Kind.UNADJUSTED, required=True),
        Field("turn", "turn", Kind.DOUBLE),
        Field("tradestatus", "trade_status", Kind.FLAG, required=True),
        Field("pctChg", "pct_chg", Kind.DOUBLE),
        Field("peTTM", "pe_ttm", Kind.DOUBLE),
        Field("psTTM", "ps_ttm", Kind.DOUBLE),
        Field("pcfNcfTTM", "pcf_ncf_ttm", Kind.DOUBLE),
        Field("pbMRQ", "pb_mrq", Kind.DOUBLE),
        Field("isST", "is_st", Kind.BOOLEAN),
    ),
    code_column="code",
    date_column="date",
    key=("code", "date"),
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
    code_column="code",
    date_column="dividOperateDate",
    key=("code", "dividOperateDate"),
)

STOCK_UNIVERSE = RowSpec(
    name="stock universe",
    fields=(
        Field("code", "code", Kind.CODE, required=True),
        Field("tradeStatus", "trade_status", Kind.FLAG, required=True),
        Field("code_name", "code_name", Kind.TEXT),
        Field("ipoDate", "ipo_date", Kind.DATE),
        Field("outDate", "out_date", Kind.DATE),
        Field("type", "type", Kind.SMALLINT),
        Field("status", "status", Kind.SMALLINT),
    ),
    code_column="code",
    date_column=None,
    key=("code",),
)

TRADE_CALENDAR = RowSpec(
    name="trade calendar",
    fields=(
        Field("calendar_date", "calendar_date", Kind.DATE, required=True),
        Field("is_trading_day", "is_trading_day", Kind.BOOLEAN, required=True),
    ),
    code_column=None,
    date_column="calendar_date",
    key=("calendar_date",),
)

"""Reading the warehouse: the `Warehouse` API (bars, universe, calendar) on short, locked-down connections.

Every call opens the DuckDB file read-only, runs its query and closes it again,
so a notebook holding a `Warehouse` for hours never holds the file: the daily
run's writer only ever waits for one query, and a reader only ever waits for
one write transaction (both sides retry with backoff while the other holds the
lock). The connection can only read: external access (files, network,
extensions, ATTACH) is disabled and the configuration locked, so SQL given to
`marketdata query` or `Warehouse.sql` cannot touch anything but the warehouse.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from marketdata_pipeline.baostock import validation
from marketdata_pipeline.baostock.errors import BadParameterError
from marketdata_pipeline.ingest.inputs import required_date
from marketdata_pipeline.storage import DAILY_BARS_COLUMNS, open_warehouse
from marketdata_pipeline.storage.columns import DAILY_BARS, STOCK_UNIVERSE_BY_DAY

ADJUSTMENTS = (None, "qfq", "hfq")
OUTPUTS = ("pandas", "arrow", "polars")
BAR_COLUMNS = tuple(name for name, _, _ in DAILY_BARS_COLUMNS)
# Nullable pandas types, so a column's dtype never depends on whether the slice holds a NULL.
_NULLABLE_TYPES = {"BIGINT": "Int64", "SMALLINT": "Int16", "BOOLEAN": "boolean"}
_NULLABLE = {
    f.target: _NULLABLE_TYPES[f.kind.sql_type]
    for f in (*DAILY_BARS.stored, *STOCK_UNIVERSE_BY_DAY.stored)
    if f.kind.sql_type in _NULLABLE_TYPES
}
# What a reading connection may not do; locked, so no statement can turn it back on.
READ_ONLY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class StaleFactorsWarning(UserWarning):
    """Some codes' bars show an ex-date that adjust_factors lacks: their adjusted prices are NaN."""


class WarehouseMissingError(FileNotFoundError):
    """No warehouse file at the configured path."""


def normalize_code(code: str) -> str:
    """`sh.600000` or `600000.SH` (any case) as BaoStock's `sh.600000`; ValueError for anything else."""
    try:
        return validation.normalize_code(code)
    except BadParameterError as error:
        raise ValueError(error.message) from None


def _day_range(start: date | str | None, end: date | str | None) -> tuple[date, date]:
    """`start`..`end` as dates (a `date`, `datetime`, `pd.Timestamp` or ISO string; None: open-ended),
    refused with ValueError naming the bad one, or both when reversed."""
    first = date.min if start is None else required_date(start, "start")
    last = date.max if end is None else required_date(end, "end")
    if first > last:
        raise ValueError(f"start={first} is after end={last}: swap them")
    return first, last


@contextmanager
def reading_connection(
    path: str | Path, *, lock_timeout: float = 60.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse at `path` that cannot reach files, network or settings."""
    path = Path(path)
    if not path.is_file():
        raise WarehouseMissingError(
            f"no warehouse at {path}: set MARKETDATA_DUCKDB_PATH to the DuckDB file, or create it "
            "(`make demo` writes data/demo.duckdb; a daily_bars run writes data/marketdata.duckdb)"
        )
    with open_warehouse(path, read_only=True, lock_timeout=lock_timeout, config=READ_ONLY_CONFIG) as con:
        yield con


class Warehouse:
    """The warehouse, read through short-lived read-only connections (hold one as long as you like).

    >>> wh = Warehouse()        # MARKETDATA_DUCKDB_PATH, else data/marketdata.duckdb
    >>> wh.bars("600000.SH", "2024-01-02", "2024-01-31", adjust="qfq")
    """

    def __init__(self, path: str | Path | None = None, *, lock_timeout: float = 60.0) -> None:
        if path is None:
            from marketdata_pipeline.defs.settings import load_settings

            path = load_settings().duckdb_path
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"Warehouse(path={str(self.path)!r})"

    def bars(
        self,
        codes: str | Iterable[str],
        start: date | str | None = None,
        end: date | str | None = None,
        adjust: str | None = None,
        fields: Iterable[str] | None = None,
        as_: str = "pandas",
    ):
        """Daily bars of `codes` from `start` to `end` (both included; None = open-ended), by code then date.

        `adjust`: None (raw), "qfq" (forward: the latest prices stay raw) or "hfq" (back-adjusted),
        equal to BaoStock's adjustflag 2 and 1 answers. Where a code's bars show an ex-date that
        adjust_factors lacks, its adjusted prices are NaN and a StaleFactorsWarning names the codes.
        `fields`: columns to return (trade_date and code always come first). `as_`: pandas, arrow or polars.
        """
        wanted = (
            [normalize_code(codes)] if isinstance(codes, str) else sorted({normalize_code(c) for c in codes})
        )
        if not wanted:
            raise ValueError("codes is empty: give one code or a list of codes")
        first, last = _day_range(start, end)
        if adjust not in ADJUSTMENTS:
            raise ValueError(f"adjust={adjust!r} is not one of None, 'qfq', 'hfq'")
        if as_ not in OUTPUTS:
            raise ValueError(f"as_={as_!r} is not one of {', '.join(OUTPUTS)}")
        columns = _bar_columns(fields)
        table = "daily_bars" if adjust is None else f"daily_bars_{adjust}"
        with reading_connection(self.path, lock_timeout=self.lock_timeout) as con:
            if adjust is not None and not con.execute("SELECT count(*) FROM adjust_factors").fetchone()[0]:
                raise ValueError(
                    f"adjust={adjust!r} needs adjust factors and the warehouse has none: "
                    "materialize adjust_factors first (or read with adjust=None)"
                )
            relation = con.execute(
                f"SELECT {', '.join(columns)} FROM {table} "
                "WHERE list_contains(?, code) AND trade_date BETWEEN ? AND ? ORDER BY code, trade_date",
                [wanted, first, last],
            )
            frame = _output(relation, as_)
            if adjust is not None:
                _warn_stale_factors(con, wanted, first, last, adjust)
        return frame

    def universe(self, day: date | str) -> pd.DataFrame:
        """Every security listed on `day` (code, name, trade status, type, status, IPO/delisting, batch)."""
        when = required_date(day, "day")
        with reading_connection(self.path, lock_timeout=self.lock_timeout) as con:
            frame = con.execute(
                "SELECT * FROM stock_universe WHERE trade_date = ? ORDER BY code", [when]
            ).df()
            if frame.empty:
                (stored,) = con.execute(
                    "SELECT max(trade_date) FROM stock_universe WHERE trade_date <= ?", [when]
                ).fetchone()
                raise ValueError(
                    f"day={when} has no stored universe (latest stored on or before it: {stored}); "
                    "pick a trading day whose stock_universe partition is materialized"
                )
        return _typed(frame)

    def calendar(self, start: date | str, end: date | str) -> pd.DatetimeIndex:
        """The trading days from `start` to `end`, both included (BaoStock's calendar, as stored)."""
        first, last = _day_range(start, end)
        with reading_connection(self.path, lock_timeout=self.lock_timeout) as con:
            (known,) = con.execute("SELECT count(*) FROM trade_calendar").fetchone()
            if not known:
                raise ValueError("trade_calendar is empty: materialize the trade_calendar asset first")
            days = con.execute(
                "SELECT calendar_date FROM trade_calendar "
                "WHERE is_trading_day AND calendar_date BETWEEN ? AND ? ORDER BY 1",
                [first, last],
            ).df()["calendar_date"]
        return pd.DatetimeIndex(days, name="trade_date")

    def sql(self, query: str, parameters: list | None = None) -> pd.DataFrame:
        """Any read-only SQL on the warehouse, as a DataFrame (external access is disabled)."""
        with reading_connection(self.path, lock_timeout=self.lock_timeout) as con:
            return con.execute(query, parameters or []).df()


def _bar_columns(fields: Iterable[str] | None) -> list[str]:
    if fields is None:
        return list(BAR_COLUMNS)
    chosen = [fields] if isinstance(fields, str) else list(fields)
    unknown = [name for name in chosen if name not in BAR_COLUMNS]
    if unknown:
        raise ValueError(f"fields {unknown} are not daily_bars columns; choose from {', '.join(BAR_COLUMNS)}")
    return ["trade_date", "code", *(name for name in chosen if name not in ("trade_date", "code"))]


def _output(relation: duckdb.DuckDBPyConnection, as_: str):
    if as_ == "pandas":
        return _typed(relation.df())
    table = relation.fetch_arrow_table()
    if as_ == "arrow":
        return table
    try:
        import polars
    except ImportError as error:
        raise ValueError("as_='polars' needs polars: pip install polars") from error
    return polars.from_arrow(table)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({name: kind for name, kind in _NULLABLE.items() if name in frame.columns})


def _warn_stale_factors(
    con: duckdb.DuckDBPyConnection, codes: list[str], first: date, last: date, adjust: str
) -> None:
    # A missing ex-date voids every qfq price of the code, but only the hfq prices from it on.
    through = date.max if adjust == "qfq" else last
    stale = con.execute(
        "SELECT code, min(trade_date) FROM adjust_factor_gaps "
        "WHERE list_contains(?, code) AND trade_date <= ? GROUP BY code ORDER BY code",
        [codes, through],
    ).fetchall()
    if stale:
        shown = ", ".join(f"{code} (ex-date {day})" for code, day in stale[:10])
        warnings.warn(
            f"{len(stale)} codes have ex-dates in their bars that adjust_factors lacks: {shown}"
            f"{' ...' if len(stale) > 10 else ''}; their adjusted prices from {first} to {last} are NaN, "
            "not raw. Materialize adjust_factors for their batches, then read again.",
            StaleFactorsWarning,
            stacklevel=3,
        )

"""`marketdata query`, `status` and `export` as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from marketdata_pipeline.cli import main

# A writer: a read-write connection held until stdin closes.
HOLD_THE_FILE = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
    "sys.stdin.read(); c.close()"
)


def test_a_sql_error_is_duckdbs_one_line_with_its_hint(loaded, capsys):
    assert main(["query", "--db", str(loaded[0]), "SELECT * FROM daily_barz"]) == 1
    err = capsys.readouterr().err
    assert (
        err == 'error: Catalog Error: Table with name daily_barz does not exist! Did you mean "daily_bars"?\n'
    )


def test_query_writes_csv_and_parquet_with_every_row(loaded, tmp_path, capsys):
    sql = "SELECT code, trade_date, close FROM daily_bars ORDER BY ALL"
    db = str(loaded[0])
    assert (
        main(["query", "--db", db, sql, "--format", "parquet", "--out", str(tmp_path / "bars.parquet")]) == 0
    )
    assert main(["query", "--db", db, sql, "--format", "csv", "--out", str(tmp_path / "bars.csv")]) == 0
    capsys.readouterr()
    assert main(["query", "--db", db, sql, "--all"]) == 0
    shown = capsys.readouterr().out
    rows = (tmp_path / "bars.csv").read_text().count("\n") - 1
    assert pq.read_table(tmp_path / "bars.parquet").num_rows == rows > 1000
    assert f"{rows} rows" in shown and "…" not in shown.split(f"{rows} rows")[0][-200:]


def test_parquet_without_out_is_refused(loaded, capsys):
    assert main(["query", "--db", str(loaded[0]), "SELECT 1", "--format", "parquet"]) == 1
    assert "--out FILE" in capsys.readouterr().err


@pytest.mark.slow
def test_query_says_it_waits_for_a_writer_then_answers(loaded, tmp_path):
    db = tmp_path / "held.duckdb"
    db.write_bytes(loaded[0].read_bytes())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_FILE, str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    query = None
    try:
        assert holder.stdout.readline().strip() == "held"
        query = subprocess.Popen(
            [sys.executable, "-m", "marketdata_pipeline.cli", "query", "--db", str(db), "SELECT 42"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        waiting = query.stderr.readline()
        holder.stdin.close()  # the writer finishes only once the query said it waits
        out, err = query.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        if query is not None:
            query.kill()
            query.wait()
    assert waiting == f"waiting up to 60 s for process {holder.pid}, which is writing to {db} ...\n"
    assert query.returncode == 0, err
    assert "42" in out


def test_status_names_each_asset_its_gaps_and_freshness(loaded, capsys):
    assert main(["status", "--db", str(loaded[0])]) == 0
    out = capsys.readouterr().out
    assert "trade_calendar: through" in out
    assert "b03: 2024-07-01..2024-07-05, no gaps, STALE:" in out
    assert "never loaded: b00" in out
    assert "adjust_factors:" in out and "failures:" in out


def test_export_commands_print_what_they_wrote(loaded, tmp_path, capsys):
    assert main(["export", "parquet", "--db", str(loaded[0]), "--to", str(tmp_path / "pq")]) == 0
    assert (
        main(["export", "qlib", "--db", str(loaded[0]), "--to", str(tmp_path / "ql"), "--adjust", "qfq"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"parquet export in {tmp_path / 'pq'}: ")
    assert "days through 2024-07-05" in out[1]

"""The README's closing numbers: false positives on clean markets, and each anomaly's detection.

    .venv/bin/python -m marketdata_pipeline_tests.trust.scorecard [SEEDS]

Loads a month (June 2024) of batch b05 per seed from a clean simulator and runs every check
(seeds x checks, each failed check a false positive); then one simulator per seed with all five
kinds at 2% at once, and counts the rows each kind altered against the rows its check names.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.storage import ensure_schema, open_warehouse
from marketdata_pipeline_tests.trust.market import (
    KINDS,
    LAST,
    anomalous_month,
    every_check,
    expected_rows,
    load_month,
)


def main(seeds: int) -> None:
    false_positives = checks_run = 0
    detection = {kind: [0, 0, 0] for kind in KINDS}  # injected, visible to the check, found
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            with (
                Simulator(seed=seed, today=LAST) as sim,
                open_warehouse(Path(tmp) / f"c{seed}.duckdb") as con,
            ):
                ensure_schema(con)
                load_month(sim, con)
                results = every_check(con)
            checks_run += len(results)
            failed = [r.name for r in results if not r.passed]
            false_positives += len(failed)
            print(f"seed {seed}: clean market, {len(results)} checks, failed: {failed or 'none'}", flush=True)
            _, found, injected, _ = anomalous_month(seed, Path(tmp) / f"a{seed}.duckdb", "scorecard")
            for kind in KINDS:
                visible = expected_rows(kind, injected)
                counts = (len(injected[kind]), len(visible), len(found[kind] & visible))
                detection[kind] = [a + b for a, b in zip(detection[kind], counts, strict=True)]
                assert found[kind] <= injected[kind], f"{kind}: rows found that were not injected"
            print(f"seed {seed}: so far (injected, visible, found) {detection}", flush=True)
    print(
        f"\nclean markets: {false_positives} false positives in {seeds} seeds x {checks_run // seeds} checks"
    )
    print("anomaly | rows injected | visible to its check | found")
    for kind, (injected_, visible, found_) in detection.items():
        print(f"{kind} | {injected_} | {visible} | {found_}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)

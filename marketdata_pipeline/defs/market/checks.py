"""The market assets' asset checks, as Dagster sees them; their SQL is in storage.checks.

`daily_bars` and `adjust_factors` each emit their own checks, so a check judges the
same run and the same pool as the rows it checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import dagster as dg

from marketdata_pipeline.defs.market.metadata import failures_table
from marketdata_pipeline.storage.checks import ADJUST_FACTORS_CHECKS as ADJUST_FACTORS_DATA
from marketdata_pipeline.storage.checks import DAILY_BARS_CHECKS as DAILY_BARS_DATA

ASSET = "daily_bars"

DAILY_BARS_CHECKS = [
    dg.AssetCheckSpec(
        "pool_health",
        asset=ASSET,
        blocking=True,
        description="The run's BaoStock pool after the fetch: no leaked session, none left out, "
        "every idle session answers a ping; login failures and discards reported.",
    ),
    dg.AssetCheckSpec(
        "failure_rate",
        asset=ASSET,
        blocking=True,
        description="Failed symbols / requested symbols: WARN above warn_failure_rate (1%), "
        "ERROR above error_failure_rate (5%), when nothing is written.",
    ),
    *(dg.AssetCheckSpec(check.name, asset=ASSET, description=check.catches) for check in DAILY_BARS_DATA),
]

ADJUST_FACTORS_CHECK_SPECS = [
    dg.AssetCheckSpec(check.name, asset="adjust_factors", description=check.catches)
    for check in ADJUST_FACTORS_DATA
]

DATA_CHECK_NAMES = tuple(check.name for check in (*DAILY_BARS_DATA, *ADJUST_FACTORS_DATA))


def refuse_unknown_checks(error_checks: Sequence[str]) -> None:
    """Run config naming a check that does not exist would silently keep it a WARN: refuse it."""
    unknown = sorted(set(error_checks) - set(DATA_CHECK_NAMES))
    if unknown:
        raise dg.Failure(
            f"error_checks {unknown} are not data checks; pick from {', '.join(DATA_CHECK_NAMES)}"
        )


def failure_rate_result(outcomes: Sequence, warn_above: float, error_above: float) -> dg.AssetCheckResult:
    """failed / requested symbols over the run's batches, with the failed codes and reasons."""
    failures = [failure for outcome in outcomes for failure in outcome.failures]
    requested = sum(len(outcome.codes) for outcome in outcomes)
    failed = sum(outcome.failed_codes for outcome in outcomes)
    rate = failed / requested if requested else 0.0
    severity = dg.AssetCheckSeverity.ERROR if rate > error_above else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        check_name="failure_rate",
        passed=rate <= warn_above,
        severity=severity,
        metadata={
            "failure_rate": rate,
            "failed_symbols": failed,
            "requested_symbols": requested,
            "warn_above": warn_above,
            "error_above": error_above,
            "failures": dg.MetadataValue.md(failures_table(failures)) if failures else "none",
        },
    )


def stopped_message(stopped: Sequence, error_above: float) -> str:
    """Why a run wrote nothing for some batches: their failure rates and the threshold."""
    parts = [
        f"{o.batch}: {o.failed_codes} of {len(o.codes)} symbols failed ({o.failure_rate:.1%})"
        for o in stopped
    ]
    first = next((f for o in stopped for f in o.failures), None)
    example = f"; first failure {first.code}: {first.error_type}: {first.message}" if first else ""
    return (
        f"failure_rate above error_failure_rate={error_above:.1%} - {'; '.join(parts)}: nothing written, "
        f"the stored slice is unchanged (failures are in ingest_failures){example}"
    )


def merged_results(
    per_batch: Sequence[tuple[str, Sequence]], run_id: str, error_checks: Sequence[str] = ()
) -> list[dg.AssetCheckResult]:
    """One asset check result per check name from each batch's storage CheckResults."""
    merged: dict[str, list] = {}
    for batch, results in per_batch:
        for result in results:
            merged.setdefault(result.name, []).append((batch, result))
    return [merged_result(name, results, run_id, error_checks) for name, results in merged.items()]


def merged_result(
    check_name: str, results: list, run_id: str, error_checks: Sequence[str]
) -> dg.AssetCheckResult:
    """One asset check result from per-batch CheckResults: WARN unless named in `error_checks`."""
    numbers: Counter[str] = Counter()  # update(), not +: a count of 0 stays in the metadata
    for _, result in results:
        numbers.update(result.numbers)
    examples = [dict(example, batch=batch) for batch, result in results for example in result.examples]
    passed = all(result.passed for _, result in results)
    metadata = {**numbers, "offending_rows": dg.MetadataValue.json([_plain(e) for e in examples[:20]])}
    if not passed:
        metadata["all_findings"] = dg.MetadataValue.md(
            f"`SELECT * FROM check_findings WHERE run_id = '{run_id}' AND check_name = '{check_name}'`"
        )
    error = check_name in error_checks
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR if error else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def _plain(example: Mapping) -> dict:
    return {
        key: value if isinstance(value, int | float | str | None) else str(value)
        for key, value in example.items()
    }


def pool_health_result(pool) -> dg.AssetCheckResult:
    """Ping every idle session, then judge the pool: nothing leaked, nothing still checked out."""
    report = pool.health_check()
    stats = pool.stats()
    problems = []
    if stats["in_use"]:
        problems.append(f"{stats['in_use']} sessions still checked out")
    if stats["leaks"]:
        problems.append(f"{stats['leaks']} leaked sessions")
    if report.refused:
        # Not the pool's fault, and not the data's: say so, or an operator re-fetches good data.
        problems.append(
            f"the server refused the final pings ({report.refused}); the data this run wrote is "
            "complete and unaffected, the sessions could not be checked"
        )
    elif report.unreplaced:
        problems.append(f"{report.unreplaced} sessions failed the ping and could not be replaced")
    return dg.AssetCheckResult(
        check_name="pool_health",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "problems": "; ".join(problems) or "none",
            "checked": report.checked,
            "replaced": report.replaced,
            **{name: stats[name] for name in ("size", "max_size", "logins", "login_failures", "leaks")},
            "hit_rate": float(stats["hit_rate"]),
            "acquire_wait_p95_ms": float(stats["acquire_wait_p95_ms"]),
            "discarded_by_reason": dg.MetadataValue.json(dict(stats["discarded_by_reason"])),
        },
    )

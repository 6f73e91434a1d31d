"""Real runs of `daily_bars_job` in a test instance, each ending the way a test chooses.

The job has the real job name, partitions and blocking `failure_rate` check,
but its asset only reports the chosen outcome instead of fetching: the
sensors read nothing but the run-status events, tags and check evaluations
these runs write to the instance.
"""

from collections.abc import Mapping

import dagster as dg

from marketdata_pipeline.defs.market.freshness import daily_bars_fresh
from marketdata_pipeline.defs.market.jobs import daily_bars_job
from marketdata_pipeline.defs.market.partitions import daily_bars_partitions

OUTCOMES = ("ok", "warn", "error", "crash")


class Outcome(dg.Config):
    outcome: str = "ok"
    """ok (check passes), warn (check fails as WARN, run succeeds), error (blocking check fails the
    run), crash (the step raises)."""


@dg.asset(
    name="daily_bars",
    partitions_def=daily_bars_partitions,
    output_required=False,
    check_specs=[dg.AssetCheckSpec("failure_rate", asset="daily_bars", blocking=True)],
)
def daily_bars_outcome(config: Outcome):
    if config.outcome not in OUTCOMES:
        raise ValueError(f"outcome {config.outcome!r} is not one of {OUTCOMES}")
    if config.outcome == "crash":
        raise RuntimeError("the BaoStock server went away")
    rate = {"ok": 0.0, "warn": 0.02, "error": 0.5}[config.outcome]
    if config.outcome != "error":
        yield dg.MaterializeResult()
    severity = dg.AssetCheckSeverity.ERROR if config.outcome == "error" else dg.AssetCheckSeverity.WARN
    yield dg.AssetCheckResult(
        check_name="failure_rate", passed=rate <= 0.01, severity=severity, metadata={"failure_rate": rate}
    )


# daily_bars_job leaves fresh_by_1830 out by its key: the check is defined, as in the project.
DEFINITIONS = dg.Definitions(
    assets=[daily_bars_outcome], asset_checks=[daily_bars_fresh], jobs=[daily_bars_job]
)
"""A code location of its own, for Dagster's daemon code to re-execute runs from."""
JOB = DEFINITIONS.resolve_job_def(daily_bars_job.name)


def run_daily_bars(
    instance: dg.DagsterInstance,
    outcome: str,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.DagsterRun:
    """Execute one run of the partition (or of the range in `tags`) that ends with `outcome`."""
    result = JOB.execute_in_process(
        run_config={"ops": {"daily_bars": {"config": {"outcome": outcome}}}},
        instance=instance,
        partition_key=partition_key,
        tags=dict(tags or {}),
        raise_on_error=False,
    )
    return instance.get_run_by_id(result.run_id)


def launch(instance: dg.DagsterInstance, request: dg.RunRequest, outcome: str) -> dg.DagsterRun:
    """Run what a sensor requested, as the daemon would, ending with `outcome`."""
    return run_daily_bars(instance, outcome, request.partition_key, request.tags)

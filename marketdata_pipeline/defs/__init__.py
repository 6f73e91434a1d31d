"""Dagster definitions, grouped by area; and the code location's executor."""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    """Every run executes its steps in the run worker itself, not one child process per step.

    A step process costs a second Dagster start (~4 s of imports and definitions, half the wall of a
    day's run) and buys little here: every BaoStock step claims the one "baostock" slot, so a run's
    steps never ran side by side anyway. A run worker killed with -9 takes its steps with it.
    """
    return dg.Definitions(executor=dg.in_process_executor)

"""Symbol batching, the fetch planner and bounded concurrent fetching (no Dagster here)."""

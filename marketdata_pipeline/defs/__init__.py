"""Dagster definitions, grouped by area."""

"""The BaoStock sessions as Dagster sees them: the pool resource and the blacklist cool-down."""

"""The market assets and their automation: partitions, checks, jobs, schedules, sensors, retries."""

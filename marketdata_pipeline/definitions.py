"""The code location: assembles everything under `defs/`."""

import os
from functools import lru_cache
from pathlib import Path

from dagster import Definitions, definitions, load_from_defs_folder


@definitions
def defs() -> Definitions:
    return _defs_for(frozenset(os.environ.items()))


@lru_cache(maxsize=1)
def _defs_for(environment: frozenset[tuple[str, str]]) -> Definitions:
    """The definitions for one environment, built once per process.

    Dagster loads the code location six times in one `dagster asset materialize` run, and each
    build costs ~0.8 s (mostly Dagster's component-library metadata); what is built depends only on
    the environment (the settings), so a changed environment builds anew.
    """
    return load_from_defs_folder(path_within_project=Path(__file__).parent)

"""The code location: assembles everything under `defs/`."""

from functools import lru_cache
from pathlib import Path

from dagster import Definitions, definitions, load_from_defs_folder

from marketdata_pipeline.defs.settings import Settings, load_settings


@definitions
def defs() -> Definitions:
    return _defs_for(load_settings())


@lru_cache(maxsize=1)
def _defs_for(settings: Settings) -> Definitions:
    """The definitions for one set of settings, built once per process.

    Dagster loads the code location six times in one `dagster asset materialize` run, and each
    build costs ~0.8 s (mostly Dagster's component-library metadata); what is built depends only on
    the settings, so changed settings build anew.
    """
    return load_from_defs_folder(path_within_project=Path(__file__).parent)

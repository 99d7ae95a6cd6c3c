"""prefline's Dagster code location: each stage's package exports its definitions, merged here
in flow order. Nothing is read at import: Dagster calls `defs` when it loads the location (and
`load_defs` gives in-process callers the same object once)."""

from functools import lru_cache

from dagster import Definitions, definitions

from pipeline import (
    capture,
    dedup,
    filtering,
    final_preference_set,
    judge_labeling,
    orchestration,
    pair_construction,
    staging,
    template_normalization,
    upsampling,
)

STAGES = (capture, staging, filtering, template_normalization, dedup, pair_construction, judge_labeling,
          upsampling, final_preference_set)


@definitions
def defs() -> Definitions:
    return Definitions.merge(*(stage.defs() for stage in STAGES), orchestration.defs())


@lru_cache(maxsize=1)
def load_defs() -> Definitions:
    return defs()

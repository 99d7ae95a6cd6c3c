"""How dbt models appear in Dagster: the group is the model's stage folder
(models/intermediate/<stage>/, models/marts/<stage>/), and every staging view is in `staging`
whichever stage wrote the table it reads (models/staging/<stage>/). The folder layout of
dbt_project/models is the one place that decides it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


class StageTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        fqn = dbt_resource_props["fqn"]  # [project, layer, stage, model]
        return "staging" if fqn[1] == "staging" else fqn[2]

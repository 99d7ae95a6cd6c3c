"""The dbt project, on its own so its manifest can be prepared before Definitions load:

    dagster-dbt project prepare-and-package --file pipeline/transforms/project.py
"""

from pathlib import Path

from dagster_dbt import DbtProject

_ROOT = Path(__file__).resolve().parents[2]

dbt_project = DbtProject(
    project_dir=_ROOT / "dbt_project",
    profiles_dir=_ROOT / "dbt_project",
)

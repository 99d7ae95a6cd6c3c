"""The dbt project, on its own so its manifest can be prepared before Definitions load:

    dagster-dbt project prepare-and-package --file pipeline/core/dbt_project.py
"""

from dagster_dbt import DbtProject

from pipeline.core.paths import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

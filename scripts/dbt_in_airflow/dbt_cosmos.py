"""The dbt project rendered by astronomer-cosmos: one task per model, seed and snapshot.

Manifest load mode (the manifest of `dbt parse` in DBT_TARGET_PATH: nothing runs dbt at
parse time), no `dbt deps`, TestBehavior.BUILD so that each node's task runs
`dbt build --select <node>`: its data tests and unit tests with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import dag
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from core.config import DBT_PROJECT_DIR

MANIFEST = Path(os.environ.get("DBT_TARGET_PATH") or DBT_PROJECT_DIR / "target") / "manifest.json"


@dag(schedule=None, catchup=False, tags=["bench"])
def dbt_cosmos():
    DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(manifest_path=MANIFEST, project_name="twotowns", install_dbt_deps=False),
        profile_config=ProfileConfig(profile_name="twotowns", target_name="local",
                                     profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER,
                                         dbt_project_path=DBT_PROJECT_DIR),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD),
        operator_args={"install_deps": False},
    )


dbt_cosmos()

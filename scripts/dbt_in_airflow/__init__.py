"""Two ways of running the dbt project in Airflow, side by side, for `make bench-dbt-airflow`.

Not in `dags/`: the scheduler never parses these files. `dbt_single_task.py` is what
`warehouse_build` does (one `dbt build` task); `dbt_cosmos.py` renders the same project
with astronomer-cosmos (one task per node). See scripts/bench_dbt_airflow.py.
"""

#!/bin/bash
# First start and every deploy (docker-compose.yml `airflow-init`; the other Airflow services start
# only after it succeeded): Airflow's metadata schema (with the FAB auth manager's tables), the UI
# admin with the password of the secret airflow_admin_password (created once, its password set from
# the secret on every run: to rotate it, change the secret and run airflow-init again), then the
# warehouse's landing and raw schemas migrated as the owner role (python -m ops migrate).
set -euo pipefail
admin="${AIRFLOW_ADMIN_USERNAME:-admin}"
password="$(head -n 1 /run/secrets/airflow_admin_password)"
airflow db migrate
airflow users create --username "$admin" --role Admin --firstname Platform --lastname Admin \
    --email "${AIRFLOW_ADMIN_EMAIL:-admin@localhost}" --password "$password"
airflow users reset-password --username "$admin" --password "$password"
python -m ops migrate

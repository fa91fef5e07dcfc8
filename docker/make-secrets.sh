#!/bin/sh
# The stack's secrets, one file each, for docker-compose.yml `secrets:` (docs/production.md).
#   sudo sh docker/make-secrets.sh [DIR]      (DIR: TWOTOWNS_SECRETS_DIR, default ./secrets)
# A password file that exists is kept (never overwritten); remove it, or write a new value into it,
# to rotate that secret. The files derived from passwords (connection URLs, the PostgreSQL password
# file, Redis' users) are written again on every run, so a rotated password reaches all of them.
# The directory is 0700 (only root on the host reaches the files); inside it the files are 0644,
# because each is bind-mounted into the containers that need it, whatever user they run as
# (postgres, airflow 50000, garage), and into no other. warehouse_pgpass is 0600 owned by 50000:
# libpq ignores a password file that others may read.
set -eu
DIR="${1:-${TWOTOWNS_SECRETS_DIR:-./secrets}}"
umask 077
mkdir -p "$DIR"
chmod 0700 "$DIR"

hex32() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# new NAME VALUE: write the secret unless it exists
new() {
    if [ ! -s "$DIR/$1" ]; then
        printf '%s\n' "$2" > "$DIR/$1"
        echo "created $1"
    fi
}

# derived NAME CONTENT: always (re)written from the secrets it is made of
derived() { printf '%s\n' "$2" > "$DIR/$1"; }

read1() { head -n 1 "$DIR/$1"; }

new warehouse_admin_password "$(hex32)"
new warehouse_password "$(hex32)"
new airflow_db_password "$(hex32)"
new redis_password "$(hex32)"
new airflow_fernet_key "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')"
new airflow_jwt_secret "$(hex32)"
new airflow_api_secret_key "$(hex32)"
new airflow_admin_password "$(hex32 | cut -c1-24)"
new garage_rpc_secret "$(hex32)"
new garage_admin_token "$(hex32)"
new portal_secret_key "$(hex32)"
if [ ! -s "$DIR/publication_s3_credentials" ]; then
    # Garage's key format: GK + 24 hex digits, and a 64 hex digit secret
    printf '[default]\naws_access_key_id = GK%s\naws_secret_access_key = %s\n' \
        "$(hex32 | cut -c1-24)" "$(hex32)" > "$DIR/publication_s3_credentials"
    echo "created publication_s3_credentials"
fi

derived warehouse_pgpass "*:5432:twotowns:twotowns:$(read1 warehouse_password)"
derived airflow_db_url "postgresql+psycopg2://airflow:$(read1 airflow_db_password)@airflow-db:5432/airflow"
derived airflow_broker_url "redis://airflow:$(read1 redis_password)@redis:6379/0"
# Redis users: no default user; Airflow's; and one that may only PING, for the health check
derived redis_users.acl "user default off
user airflow on >$(read1 redis_password) ~* &* +@all
user healthcheck on nopass -@all +ping"

chmod 0644 "$DIR"/*
chmod 0600 "$DIR/warehouse_pgpass"
if [ "$(id -u)" = 0 ]; then
    chown 50000:0 "$DIR/warehouse_pgpass"
else
    echo "not root: chown 50000 $DIR/warehouse_pgpass yourself (the Airflow user reads it)" >&2
fi

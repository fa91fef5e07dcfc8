#!/bin/sh
# First start of the warehouse container (/docker-entrypoint-initdb.d): the owner role the
# platform connects as, with no more rights than it needs, and its database. The superuser
# (POSTGRES_USER) is for the DBA only; no service connects with it.
#   CREATEROLE: dbt creates the read-only BI role (<database>_bi_reader) and grants it.
#   No SUPERUSER, no CREATEDB, no REPLICATION, no BYPASSRLS.
# Passwords are psql variables (quoted by psql), never spliced into the SQL text.
set -eu
: "${TWOTOWNS_DB_PASSWORD:?the owner role's password (WAREHOUSE_DB_PASSWORD in .env)}"
TWOTOWNS_DB_USER="${TWOTOWNS_DB_USER:-twotowns}"
TWOTOWNS_DB_NAME="${TWOTOWNS_DB_NAME:-twotowns}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "${POSTGRES_DB:-postgres}" \
     -v owner="$TWOTOWNS_DB_USER" -v db="$TWOTOWNS_DB_NAME" -v pw="$TWOTOWNS_DB_PASSWORD" <<'SQL'
create role :"owner" login createrole nosuperuser nocreatedb noreplication nobypassrls password :'pw';
create database :"db" owner :"owner" encoding 'UTF8' template template0;
revoke all on database :"db" from public;
grant connect, temporary on database :"db" to :"owner";
SQL

#!/bin/sh
# First start of the warehouse container (/docker-entrypoint-initdb.d): the owner role the
# platform connects as, with no more rights than it needs, its database, and the BI role. The
# superuser (POSTGRES_USER) is for the DBA only; no service connects with it.
#   CREATEROLE: the owner manages the BI role's members (grant <bi role> to <BI login>).
#   No SUPERUSER, no CREATEDB, no REPLICATION, no BYPASSRLS.
#   PUBLIC may not connect to the database: only the owner and the BI role (NOLOGIN; its name is
#   dbt's default, <database>_bi_reader, see dbt_project/macros/bi_reader.sql) may. The BI role is
#   created by the owner, so that the owner holds ADMIN on it, as when dbt creates it.
# The owner's password: TWOTOWNS_DB_PASSWORD, or the file TWOTOWNS_DB_PASSWORD_FILE (a compose
# secret). Passwords are psql variables (quoted by psql), never spliced into the SQL text.
set -eu
if [ -n "${TWOTOWNS_DB_PASSWORD_FILE:-}" ]; then
    TWOTOWNS_DB_PASSWORD="$(head -n 1 "$TWOTOWNS_DB_PASSWORD_FILE")"
fi
: "${TWOTOWNS_DB_PASSWORD:?the owner role's password (TWOTOWNS_DB_PASSWORD or TWOTOWNS_DB_PASSWORD_FILE)}"
TWOTOWNS_DB_USER="${TWOTOWNS_DB_USER:-twotowns}"
TWOTOWNS_DB_NAME="${TWOTOWNS_DB_NAME:-twotowns}"
TWOTOWNS_BI_ROLE="${TWOTOWNS_BI_ROLE:-${TWOTOWNS_DB_NAME}_bi_reader}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "${POSTGRES_DB:-postgres}" \
     -v owner="$TWOTOWNS_DB_USER" -v db="$TWOTOWNS_DB_NAME" -v pw="$TWOTOWNS_DB_PASSWORD" \
     -v bi="$TWOTOWNS_BI_ROLE" <<'SQL'
create role :"owner" login createrole nosuperuser nocreatedb noreplication nobypassrls password :'pw';
create database :"db" owner :"owner" encoding 'UTF8' template template0;
revoke all on database :"db" from public;
grant connect, temporary on database :"db" to :"owner";
set role :"owner";
create role :"bi" nologin;
grant connect on database :"db" to :"bi";
reset role;
SQL

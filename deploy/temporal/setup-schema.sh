#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings both schemas to the version shipped in this
# temporalio/admin-tools image (the same release as the temporalio/server image). It is the procedure
# of temporal-sql-tool's README and of Temporal's own compose samples:
#   create  ->  setup-schema -v 0.0 (version tables only)  ->  update-schema -d <versioned dir>
# Idempotent, so it runs on every `docker compose up`: `create` accepts an existing database,
# `setup-schema -v 0.0` leaves a newer recorded version alone, and `update-schema` applies only the
# versions above the recorded one. Upgrading the server image therefore upgrades the schema first.
#
# Connection settings come from temporal-sql-tool's own variables: SQL_PLUGIN, SQL_HOST, SQL_PORT,
# SQL_USER and SQL_PASSWORD (kept out of the command line).
set -eu

: "${SQL_PLUGIN:?SQL_PLUGIN must be set (postgres12)}"
: "${SQL_HOST:?SQL_HOST must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

setup_database() {
  db=$1
  schema_dir=$2
  if [ ! -d "$schema_dir" ]; then
    echo "setup-schema: $schema_dir is missing from this admin-tools image" >&2
    exit 1
  fi
  echo "setup-schema: database $db <- $schema_dir"
  temporal-sql-tool --db "$db" create
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$schema_dir"
}

setup_database "${TEMPORAL_DB:-temporal}" "$SCHEMA_ROOT/temporal/versioned"
setup_database "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" "$SCHEMA_ROOT/visibility/versioned"
echo "setup-schema: done"

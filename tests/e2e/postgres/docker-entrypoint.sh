#!/usr/bin/env bash
# Stand-in for the official postgres image's entrypoint, written for the e2e from its documented contract:
# POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB (or their *_FILE forms) and PGDATA; on an empty data
# directory run initdb (through nss_wrapper when the uid has no passwd entry, as the official image does),
# allow password (scram-sha-256) connections from any host, create POSTGRES_DB, then exec postgres.
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR from the environment, or from the file named by VAR_FILE (not both).
file_env() {
	local var="$1" file_var="${1}_FILE" default="${2:-}" value
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo >&2 "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		value="$(<"${!file_var}")"
	fi
	export "$var"="$value"
	unset "$file_var"
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
	exec "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

mkdir -p "$PGDATA"
chmod 00700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "$POSTGRES_PASSWORD" ]; then
		echo >&2 "error: database is uninitialized and POSTGRES_PASSWORD is not set (nor POSTGRES_PASSWORD_FILE)"
		exit 1
	fi
	# initdb needs a user name for the uid; give it one without writing /etc/passwd.
	if ! getent passwd "$(id -u)" >/dev/null; then
		NSS_WRAPPER_PASSWD="$(mktemp)"
		NSS_WRAPPER_GROUP="$(mktemp)"
		echo "postgres:x:$(id -u):$(id -g):PostgreSQL:$PGDATA:/bin/false" >"$NSS_WRAPPER_PASSWD"
		echo "postgres:x:$(id -g):" >"$NSS_WRAPPER_GROUP"
		export NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
		export LD_PRELOAD="$(echo /usr/lib/*/libnss_wrapper.so)"
	fi
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-}
	if [ -n "${LD_PRELOAD:-}" ]; then
		rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
		unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
	fi
	printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

	# A socket-only server for the setup, so nothing outside the container sees a half-made database.
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" \
			--dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
			CREATE DATABASE :"db";
		SQL
	fi
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
	echo 'PostgreSQL init process complete; ready for start up.'
fi

unset POSTGRES_PASSWORD
exec "$@"

#!/bin/sh
# Installs a PostgreSQL server (initdb, pg_ctl) for the tests that start a throwaway one
# (tests/postgres.py), when it is missing and this machine can (root with apt-get, as on CI).
# Elsewhere those tests say why they are skipped.
found() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    # Debian keeps the server's programs off PATH, in one directory per major version.
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && return 0
    done
    return 1
}
found && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing postgresql for the store's tests (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; then
        exit 0
    fi
    echo "smsgw: could not install postgresql; the PostgreSQL tests will be skipped" >&2
else
    echo "smsgw: no PostgreSQL server is installed (apt-get install postgresql); the PostgreSQL tests will be skipped" >&2
fi
exit 0

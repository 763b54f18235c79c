#!/usr/bin/env bash
# Makes sure the PostgreSQL server the tests use answers, starting the local
# cluster if it is installed but stopped. Fails loudly rather than letting
# the PostgreSQL half of the suite be skipped.
set -euo pipefail
url="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

ready() { pg_isready -q -d "$url" >/dev/null 2>&1; }

if ! command -v pg_isready >/dev/null 2>&1; then
    echo "PostgreSQL client tools are missing: apt-get install postgresql-client (and a server)" >&2
    exit 1
fi
if ! ready && command -v pg_ctlcluster >/dev/null 2>&1; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
        echo "starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
if ! ready; then
    echo "PostgreSQL at $url does not answer; the suite needs it (set TEST_POSTGRES_URL)" >&2
    exit 1
fi
for tool in pg_dump pg_restore; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing: apt-get install postgresql-client" >&2; exit 1; }
done
echo "PostgreSQL at $url is ready"

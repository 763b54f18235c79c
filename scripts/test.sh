#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of
# every crate (unit, property, HTTP integration and browser tests) on SQLite,
# the cluster tests (several server processes) on PostgreSQL, and the HTTP
# integration suite once more on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from https://rustup.rs (1.95 or newer)" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== browser for the end-to-end tests"
./scripts/install-browser.sh
echo "== localstripe and aiosmtpd for the payment and mail tests"
./scripts/install-test-tools.sh
echo "== PostgreSQL"
./scripts/ensure-postgres.sh
echo "== cargo test (SQLite; cluster tests on PostgreSQL)"
cargo test --workspace --locked
echo "== cargo test: the API suite on PostgreSQL"
TEST_DATABASE=postgres cargo test --locked -p robust-ticketing --test api

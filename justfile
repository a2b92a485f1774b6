# One source of truth for commands; `./dev <recipe>` installs what is missing first.
# A persistent target dir outside the clone keeps DuckDB's C++ and wasmtime
# compiled across clones and CI runs; one cargo profile (release) everywhere.

export CARGO_TARGET_DIR := env("CARGO_TARGET_DIR", home_directory() / ".cache/extract-target")
export EXTRACT_GUEST_TARGET_DIR := env("EXTRACT_GUEST_TARGET_DIR", home_directory() / ".cache/extract-guests-target")
bin := CARGO_TARGET_DIR / "release"

default: demo

# Install the wasm target (rustup) if missing.
setup:
    rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# Build the guest components (wasm32-wasip2) on their own.
build-guests: setup
    cargo build --release --target wasm32-wasip2 --workspace --manifest-path guest-components/Cargo.toml --target-dir {{EXTRACT_GUEST_TARGET_DIR}}

# Build the host (its build script builds and embeds the guest components),
# and copy every component to ./components/ (e.g. components/paypal.wasm).
build: setup
    cargo build --release --workspace --bins
    mkdir -p components
    find {{EXTRACT_GUEST_TARGET_DIR}}/wasm32-wasip2/release -maxdepth 1 -name '*.wasm' ! -name 'test_*' -exec cp {} components/ \;

# Start the Chargify-like mock on loopback, sync seed 000 into chargify.duckdb, print the summary.
demo: build
    #!/usr/bin/env bash
    set -euo pipefail
    dir="$CARGO_TARGET_DIR/demo"; mkdir -p "$dir"
    "{{bin}}/mock-vendors" --vendor chargify --records 1000 > "$dir/mock.out" 2> "$dir/mock.err" &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 200); do grep -q '^listening on ' "$dir/mock.out" 2>/dev/null && break; sleep 0.05; done
    url=$(sed -n 's/^listening on //p' "$dir/mock.out")
    [ -n "$url" ] || { echo "the mock API did not start:"; cat "$dir/mock.err"; exit 1; }
    echo "mock Chargify API at $url"
    sed "s#https://api.example.com#$url#" connectors/chargify.json > "$dir/chargify.json"
    # The mock prints the credentials it accepts as TOML secrets lines.
    grep -E '^[a-z_]+ = "' "$dir/mock.err" > "$dir/secrets.toml"
    rm -f chargify.duckdb chargify.duckdb.wal
    "{{bin}}/extract" run "$dir/chargify.json" --secrets "$dir/secrets.toml" --db chargify.duckdb

# Format check, lints (host and guests), unit and end-to-end tests.
test: setup lint
    cargo test --release --workspace
    cd guest-components && cargo test --target-dir {{EXTRACT_GUEST_TARGET_DIR}}

# Property tests ("fuzz targets", proptest) with many cases; `cargo test`
# runs the same ones with fewer (64; the guest scanner's cheap ones 256-1024). Host: config parser, secret placement,
# egress policy, redactor, normalizer and coercions (every test in a `fuzz` module). Guest: config
# parser and data selector (rest-api-core/tests/fuzz.rs).
fuzz cases="5000": setup
    PROPTEST_CASES={{cases}} cargo test --release -p extract --lib fuzz
    cd guest-components && PROPTEST_CASES={{cases}} cargo test --target-dir {{EXTRACT_GUEST_TARGET_DIR}} -p rest-api-core --test fuzz

# cargo fmt --check and clippy -D warnings on host and guest code.
lint: setup
    cargo fmt --all -- --check
    cd guest-components && cargo fmt --all -- --check
    cargo clippy --release --workspace --all-targets -- -D warnings
    cd guest-components && cargo clippy --target-dir {{EXTRACT_GUEST_TARGET_DIR}} --all-targets -- -D warnings
    cd guest-components && cargo clippy --target-dir {{EXTRACT_GUEST_TARGET_DIR}} --release --target wasm32-wasip2 --workspace -- -D warnings

# Format all code.
fmt:
    cargo fmt --all
    cd guest-components && cargo fmt --all

# Benchmark extract against dlt's rest_api_source and the machine's limits on
# a local mock API, print a table and write BENCHMARKS.md. Makes a throwaway
# Python venv for dlt under $CARGO_TARGET_DIR/bench (reused later).
# `just bench quick`: 20,000 records, report in $CARGO_TARGET_DIR/bench/.
# BENCH_RECORDS=N sets the dataset size; BENCH_SKIP_DLT=1 skips dlt.
bench mode="full": setup
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p extract -p extract-bench --bins
    out=BENCHMARKS.md
    if [ "{{mode}}" = quick ]; then
        export BENCH_RECORDS="${BENCH_RECORDS:-20000}" BENCH_DLT_DEFAULT_RECORDS="${BENCH_DLT_DEFAULT_RECORDS:-5000}"
        mkdir -p "$CARGO_TARGET_DIR/bench"; out="$CARGO_TARGET_DIR/bench/BENCHMARKS-quick.md"
    fi
    "{{bin}}/extract-bench" --out "$out"

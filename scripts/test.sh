#!/usr/bin/env bash
# Runs every test in the workspace, starting the brokers they need first.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

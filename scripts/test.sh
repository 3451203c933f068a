#!/usr/bin/env bash
# The one test command: installs what the tests need (Debian packages, Go
# modules), then runs go vet and go test on every package.
# Works on a fresh Debian machine as root (or with sudo); CI runs it via .ci/run.
set -euo pipefail

# Debian packages the tests need; add yours here (space-separated).
APT_PACKAGES="libopenblas0-pthread dataset-fashion-mnist chromium"

cd "$(dirname "$0")/.."
. scripts/setup.sh

echo "== go vet ./..."
go vet ./...
echo "== go test ./..."
go test ./...
echo "== engine tests again on the pure-Go GEMM (ARP_BLAS=go)"
ARP_BLAS=go go test -count=1 ./tensor ./autograd ./nn ./attention

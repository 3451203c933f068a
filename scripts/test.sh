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
# the Apache Beam pipelines (arp-beam) are a module of their own, so that
# Beam's dependencies never enter arp's build (docs/scale.md)
echo "== beam module: go vet and go test (arp-beam on the local runners)"
(cd beam && go vet ./... && go test ./...)
# the tests built on the engine again on every other kernel path this CPU
# runs (the default is the best one: AVX-512 where present; the kernels
# and tensor tests force every path themselves), and once with the matrix
# products through package blas (OpenBLAS when it loads)
for cpu in avx2 go; do
	if [ "$(ARP_CPU=$cpu go run ./cmd/arp version 2>/dev/null | awk '$1 == "cpu" {print $2}')" = "$cpu" ]; then
		echo "== engine tests again on the $cpu kernels (ARP_CPU=$cpu)"
		ARP_CPU=$cpu go test -count=1 ./autograd ./nn ./attention
	fi
done
# the 5x5 convolutions that take Winograd F(2x2,5x5) by default (CifarNet's
# and mnist-cnn's conv2 and their gradients, float32) on the direct kernels instead
echo "== engine tests again with the direct convolutions only (ARP_CONV=direct)"
ARP_CONV=direct go test -count=1 ./tensor ./autograd ./nn
echo "== engine tests again with GEMMs through package blas (ARP_BLAS=openblas)"
ARP_BLAS=openblas go test -count=1 ./tensor ./autograd ./nn
# the arenas' check mode: storage an arena gives back is filled with NaN and
# never reused, results not fully written are NaN, so a test that reads
# memory the ownership rule released fails (the whole suite passes so)
echo "== engine, attack and training tests again with arenas in check mode (ARP_ARENA_CHECK=1)"
ARP_ARENA_CHECK=1 go test -count=1 ./tensor ./autograd ./attack ./train ./defense

#!/usr/bin/env bash
# Sets up what arp needs (Debian packages, Go modules), builds bin/arp and
# runs the main job. Works on a fresh Debian machine as root (or with sudo).
set -euo pipefail

# Debian packages arp needs at run time; add yours here (space-separated).
APT_PACKAGES="libopenblas0-pthread"

cd "$(dirname "$0")/.."
. scripts/setup.sh

go build -o bin/arp ./cmd/arp
echo "== bin/arp version"
bin/arp version
echo "== bin/arp data info mnist-mini"
bin/arp data info mnist-mini
echo "== bin/arp demo (train adv and arp models on mnist-mini, evaluate, analyse, write the report; about 75 s on 2 idle cores)"
bin/arp demo

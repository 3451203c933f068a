#!/usr/bin/env bash
# Sets up what arp needs (Debian packages, Go modules), builds bin/arp and
# runs the main job. Works on a fresh Debian machine as root (or with sudo).
set -euo pipefail

# Debian packages arp needs at run time; add yours here (space-separated).
APT_PACKAGES="libopenblas0-pthread"

cd "$(dirname "$0")/.."

install_apt() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_apt $APT_PACKAGES

if ! command -v go >/dev/null 2>&1; then
	export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "demo.sh: the go command is not installed (see go.mod for the version)" >&2; exit 1; }

go mod download
go build -o bin/arp ./cmd/arp
echo "== bin/arp version"
bin/arp version
echo "== bin/arp data info mnist-mini"
bin/arp data info mnist-mini
echo "== bin/arp demo (train adv and arp models on mnist-mini, evaluate, analyse, write the report; under 3 minutes on 2 cores)"
bin/arp demo

#!/usr/bin/env bash
# The one test command: installs what the tests need (Debian packages, Go
# modules), then runs go vet and go test on every package.
# Works on a fresh Debian machine as root (or with sudo); CI runs it via .ci/run.
set -euo pipefail

# Debian packages the tests need; add yours here (space-separated).
APT_PACKAGES="libopenblas0-pthread dataset-fashion-mnist chromium"

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
command -v go >/dev/null 2>&1 || { echo "test.sh: the go command is not installed (see go.mod for the version)" >&2; exit 1; }

echo "== go mod download"
go mod download
echo "== go vet ./..."
go vet ./...
echo "== go test ./..."
go test ./...

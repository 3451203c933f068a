# Shared by demo.sh and test.sh (source it, do not run it): installs missing
# Debian packages and makes sure the go command is on PATH.
# Usage: APT_PACKAGES="..." . scripts/setup.sh

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
command -v go >/dev/null 2>&1 || { echo "$0: the go command is not installed (see go.mod for the version)" >&2; exit 1; }

echo "== go mod download"
go mod download

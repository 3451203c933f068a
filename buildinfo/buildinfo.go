// Package buildinfo says which arp a binary is: the release set at link time
// and the VCS revision the Go toolchain recorded, as every output records it.
package buildinfo

import "runtime/debug"

// Version is the arp release recorded in outputs; set it with -ldflags
// "-X github.com/arp-robustness/arp/buildinfo.Version=v1.2.3".
var Version = "dev"

// String is Version plus the VCS revision the binary was built
// from, when the build recorded one: what arp version prints and what
// analyses record, the same for arp and arp-beam.
func String() string {
	v := Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (" + rev + dirty + ")"
	}
	return v
}

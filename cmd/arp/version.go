package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/arp-robustness/arp/kernels"
	"github.com/spf13/cobra"
)

// version is the arp release; set with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// versionExtras are extra lines for `arp version`, each returning a label and
// a value (e.g. the engine adds {"blas", "OpenBLAS 0.3.21 (pthread)"}).
// Add to it from an init function in the file that owns the information.
var versionExtras []func() (label, value string)

func init() {
	register(newVersionCmd)
	versionExtras = append(versionExtras, func() (string, string) { return "cpu", kernels.Info() })
}

func newVersionCmd(*globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the arp version, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			lines := [][2]string{
				{"arp", arpVersion()},
				{"go", runtime.Version()},
				{"os/arch", runtime.GOOS + "/" + runtime.GOARCH},
			}
			for _, f := range versionExtras {
				l, v := f()
				lines = append(lines, [2]string{l, v})
			}
			for _, l := range lines {
				fmt.Fprintf(w, "%-8s %s\n", l[0], l[1])
			}
			return nil
		},
	}
}

// arpVersion is version plus the VCS revision the binary was built from,
// when the build recorded one.
func arpVersion() string {
	v := version
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

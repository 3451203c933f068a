package main

import (
	"fmt"
	"runtime"

	"github.com/arp-robustness/arp/buildinfo"
	"github.com/arp-robustness/arp/kernels"
	"github.com/spf13/cobra"
)

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

// arpVersion is the release plus the VCS revision (buildinfo.String).
func arpVersion() string { return buildinfo.String() }

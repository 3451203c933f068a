// Command arp is the attention-based adversarial robustness toolkit.
//
// Run `arp --help` for the subcommands.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the arp command line and returns the process exit code.
// Errors are printed once, as "arp: <message>", with no usage text.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "arp: %v\n", err)
		return 1
	}
	return 0
}

// Command arp is the attention-based adversarial robustness toolkit.
//
// Run `arp --help` for the subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/arp-robustness/arp/kernels"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the arp command line and returns the process exit code.
// Errors are printed once, as "arp: <message>", with no usage text.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context that, cancelled, interrupts the long
// commands as Ctrl-C does.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer recoverCrash(args, stderr, &code)
	// a CPU path the user asked for and this CPU cannot run is refused, not
	// replaced
	if err := kernels.EnvError(); err != nil {
		fmt.Fprintf(stderr, "arp: %v\n", err)
		return 1
	}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "arp: %v\n", err)
		return 1
	}
	return 0
}

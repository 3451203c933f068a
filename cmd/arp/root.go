package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/modelio"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globalOptions holds the flags every subcommand shares.
type globalOptions struct {
	dataDir string
}

// DataDir returns --data-dir, else $ARP_DATA_DIR, else the default cache
// directory.
func (g *globalOptions) DataDir() (string, error) {
	if g.dataDir != "" {
		return g.dataDir, nil
	}
	return data.Dir()
}

// interruptSignals end a long command cleanly (work saved, a resumable
// state left): Ctrl-C, SIGTERM (kill, a job scheduler) and SIGHUP (the
// terminal or SSH session closed).
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// onInterrupt returns a context that any of interruptSignals cancels;
// call stop when done.
func onInterrupt(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	return signal.NotifyContext(parent, interruptSignals...)
}

// interruptOnce returns a context that the first Ctrl-C (or SIGTERM or
// SIGHUP) cancels, after printing "arp: interrupted: what (Ctrl-C again to
// abort)" to w; a second Ctrl-C then kills the process. Call stop when done.
func interruptOnce(parent context.Context, w io.Writer, what string) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, interruptSignals...)
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintf(w, "\narp: interrupted: %s (Ctrl-C again to abort)\n", what)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// openModel opens the model --model names (see modelio.Load).
func openModel(path string) (*modelio.Model, error) { return job.OpenModel(path) }

// subcommands holds the constructors of the top-level subcommands. Each
// subcommand file adds its own from an init function:
//
//	func init() { register(newTrainCmd) }
//
// Commands are built fresh for every run (see newRootCmd), so tests can run
// them in-process repeatedly.
var subcommands []func(*globalOptions) *cobra.Command

// register adds a top-level subcommand constructor.
func register(f func(*globalOptions) *cobra.Command) {
	subcommands = append(subcommands, f)
}

// newRootCmd builds the arp command tree.
func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "arp",
		Short: "Attention-based adversarial robustness toolkit",
		Long: `arp trains and evaluates image classifiers, attacks them, and studies how their
visual attention (Grad-CAM) changes under attack; ARP training (attention
rectification and preservation) uses that attention to make models more robust.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", "",
		"directory for datasets (default $"+data.DirEnv+", else arp in the user cache directory)")
	for _, f := range subcommands {
		root.AddCommand(f(g))
	}
	refuseUnknown(root)
	tidyHelp(root)
	return root
}

// tidyHelp makes every command's help show real defaults and plain type
// names: a list flag without a default shows none, not "(default [])", and
// a list of numbers is "floats", not "float64Slice".
func tidyHelp(c *cobra.Command) {
	for _, sub := range c.Commands() {
		tidyHelp(sub)
	}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.DefValue == "[]" {
			f.DefValue = ""
		}
		if f.Value.Type() == "float64Slice" {
			f.Value = typeName{f.Value, "floats"}
			if d := strings.Trim(f.DefValue, "[]"); d != "" { // pflag writes 0.100000
				var vs []string
				for _, v := range strings.Split(d, ",") {
					x, _ := strconv.ParseFloat(v, 64)
					vs = append(vs, strconv.FormatFloat(x, 'g', -1, 64))
				}
				f.DefValue = "[" + strings.Join(vs, ",") + "]"
			}
		}
	})
}

// typeName gives a flag value the type name its help shows.
type typeName struct {
	pflag.Value
	name string
}

func (t typeName) Type() string { return t.name }

// refuseUnknown makes every command group (a command with subcommands and
// nothing to run itself, such as arp data or arp onnx) print its help when
// called alone and fail with a one-line error when given an argument that
// is not one of its subcommands; cobra would print the help and exit 0.
func refuseUnknown(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknown(sub)
	}
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.NoArgs
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}

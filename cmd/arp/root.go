package main

import (
	"github.com/arp-robustness/arp/data"
	"github.com/spf13/cobra"
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
	return root
}

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

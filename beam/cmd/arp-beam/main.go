// Command arp-beam runs arp eval and arp analyze as Apache Beam pipelines
// (package arpbeam), locally or on a cluster, with the same flags as arp
// and the runner's own:
//
//	arp-beam eval    --model RUN --data NAME --eps 0.1,0.3 --json eval.json [--runner prism] [runner flags]
//	arp-beam analyze --model RUN --data NAME --out DIR [--runner prism] [runner flags]
//
// The default runner is prism, Beam's local runner, in this process;
// --runner direct is the Go SDK's direct runner; dataflow, flink and spark
// (the last two through a portable job server, --endpoint) run on a
// cluster. See docs/scale.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/arp-robustness/arp/beam/arpbeam"
	"github.com/arp-robustness/arp/job"
	"github.com/spf13/pflag"

	// runners --runner may name
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
)

// knownRunners are the runners this binary registers (by their Beam names).
var knownRunners = map[string]bool{"prism": true, "PrismRunner": true, "direct": true, "DirectRunner": true,
	"dataflow": true, "DataflowRunner": true, "flink": true, "FlinkRunner": true, "spark": true, "SparkRunner": true,
	"universal": true, "portable": true, "PortableRunner": true}

const usage = `usage: arp-beam eval|analyze [flags]

arp-beam runs arp eval and arp analyze as Apache Beam pipelines, with the
flags of arp eval and arp analyze (see arp eval --help, arp analyze --help)
plus Beam's: --runner prism (default, local), direct, dataflow, flink or
spark, and the runner's options (Dataflow: --project, --region,
--staging_location, --temp_location, ...; Flink and Spark: --endpoint of
the portable job server, --environment_type, --environment_config).
arp-beam eval needs --json, arp-beam analyze --out; both may name local
paths or any Beam filesystem (gs://, s3://). See docs/scale.md.`

func main() {
	// A worker process started by a runner's container: Beam's flags only.
	for _, a := range os.Args[1:] {
		if a == "--worker" || strings.HasPrefix(a, "--worker=") || a == "-worker" || strings.HasPrefix(a, "-worker=") {
			flag.Parse()
			beam.Init()
			return
		}
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "arp-beam: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cmd := args[0]
	fs := pflag.NewFlagSet("arp-beam "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ej      job.Eval
		aj      job.Analyze
		cfg     arpbeam.Config
		verbose bool
		dataDir string
		retries int
	)
	switch cmd {
	case "eval":
		ej.Flags(fs)
	case "analyze":
		aj.Flags(fs)
	default:
		return fmt.Errorf("unknown command %q; want eval or analyze (arp-beam --help)", cmd)
	}
	fs.StringVar(&dataDir, "data-dir", "", "directory of named datasets (default $ARP_DATA_DIR, else arp in the user cache directory)")
	fs.IntVar(&cfg.BatchesPerItem, "batches-per-item", 1, "batches in one work item")
	fs.IntVar(&retries, "retries", 2, "times a worker runs a failed work item again (prism and direct never retry bundles)")
	fs.BoolVar(&verbose, "verbose", false, "show the runner's log")
	fs.AddGoFlagSet(flag.CommandLine) // Beam's: --runner, --endpoint, --project, ...
	if f := fs.Lookup("runner"); f != nil {
		f.DefValue = "prism"
		if err := f.Value.Set("prism"); err != nil {
			return err
		}
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if r := fs.Lookup("runner"); r != nil && !knownRunners[r.Value.String()] {
		return fmt.Errorf("--runner %q: want prism (local, the default), direct, dataflow, flink, spark or universal (a portable job server)", r.Value.String())
	}
	if retries < 0 {
		return fmt.Errorf("--retries %d must be >= 0", retries)
	}
	cfg.Retries = retries
	if retries == 0 {
		cfg.Retries = -1 // Config's zero is the default
	}
	if cfg.BatchesPerItem < 1 {
		return fmt.Errorf("--batches-per-item %d must be >= 1", cfg.BatchesPerItem)
	}
	ctx := context.Background()
	defer arpbeam.RemoveCache()
	beam.Init() // sets Beam's logger, which --verbose keeps
	if !verbose {
		// only arp-beam's own messages (retries); the runner's report of a
		// failure is summed up in the one-line error
		slog.SetDefault(slog.New(ownMessages{slog.NewTextHandler(stderr, nil)}))
	}
	switch cmd {
	case "eval":
		ej.DataDir = dataDir
		p, _, err := arpbeam.PlanEval(&ej, cfg)
		if err != nil {
			return err
		}
		if err := beamx.Run(ctx, p); err != nil {
			return arpbeam.WorkerError(err)
		}
		return arpbeam.PrintEval(ctx, stdout, &ej)
	default:
		aj.DataDir = dataDir
		p, _, err := arpbeam.PlanAnalyze(&aj, cfg)
		if err != nil {
			return err
		}
		if err := beamx.Run(ctx, p); err != nil {
			return arpbeam.WorkerError(err)
		}
		return arpbeam.PrintAnalysis(ctx, stdout, &aj)
	}
}

// ownMessages passes on only the log records of arp-beam itself.
type ownMessages struct{ slog.Handler }

func (h ownMessages) Handle(ctx context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "arp-beam:") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

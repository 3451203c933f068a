package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx"
	"github.com/spf13/cobra"
)

func init() {
	register(newExportCmd)
	register(newONNXCmd)
}

func newExportCmd(*globalOptions) *cobra.Command {
	var out string
	var opset int
	var force bool
	cmd := &cobra.Command{
		Use:   "export --model RUN --out FILE.onnx",
		Short: "Export a trained model to ONNX",
		Long: `Export an arp run directory to an ONNX file that PyTorch, onnxruntime and
other runtimes can run, with its metadata next to it (FILE.onnx.json).

The exported graph takes pixels in [0,1] (input "pixels", [N,C,H,W] with a
dynamic batch size N): the model's own input normalisation is part of the
graph. Every arp layer (conv1, pool2, layer3, logits, ...) is a value of the
same name, so arp sees the same layers when it imports the file again
(--model FILE.onnx). See docs/onnx.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _ := cmd.Flags().GetString("model")
			if out == "" {
				return errors.New("--out FILE.onnx is required")
			}
			if err := job.CheckOutputs(job.Output{Flag: "out", Path: out}); err != nil {
				return err
			}
			if err := limits.Int("--opset", opset, onnx.MinExportOpset, onnx.MaxExportOpset, "ONNX operator set versions arp writes"); err != nil {
				return err
			}
			if !force {
				for _, p := range []string{out, onnx.MetaPath(out)} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s exists; use --force to overwrite", p)
					}
				}
			}
			c, meta, err := modelio.Open(path)
			if err != nil {
				return err
			}
			m, ok := c.(*nn.Model)
			if !ok {
				return fmt.Errorf("%s is already an ONNX model; export takes an arp run directory", path)
			}
			if err := onnx.ExportFile(out, m, onnx.ExportOptions{Opset: opset, ClassNames: meta.ClassNames, ProducerVersion: arpVersion()}); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			in := m.InputShape()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%d bytes, opset %d), metadata %s\ninput %q: pixels in [0,1], [N,%d,%d,%d]; output: logits [N,%d]; attention layer %s\n",
				path, out, st.Size(), opset, onnx.MetaPath(out), onnx.ExportInput, in[0], in[1], in[2], m.NumClasses(), meta.AttentionLayer)
			return nil
		},
	}
	cmd.Flags().String("model", "", "arp run directory to export (required)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "ONNX file to write")
	cmd.Flags().IntVar(&opset, "opset", onnx.DefaultExportOpset, fmt.Sprintf("ONNX operator set version (%d to %d)", onnx.MinExportOpset, onnx.MaxExportOpset))
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

func newONNXCmd(*globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "onnx",
		Short: "Inspect ONNX models and list the supported operators",
		Long: `Every command that takes --model RUN also takes --model FILE.onnx: an image
classifier in ONNX format, with an optional metadata file FILE.onnx.json that
says how pixels in [0,1] reach the graph (input size, channel order, range,
mean/std) and names the classes and the default attention layer. Imported
graphs are differentiable, so attacks and Grad-CAM run on them. See
docs/onnx.md; arp export writes arp models as ONNX.`,
	}
	cmd.AddCommand(newONNXInfoCmd(), newONNXOpsCmd())
	return cmd
}

func newONNXInfoCmd() *cobra.Command {
	var layers bool
	cmd := &cobra.Command{
		Use:   "info FILE.onnx",
		Short: "Describe an ONNX file and check that arp can import it",
		Long: `Describe an ONNX file (producer, opset, inputs, outputs, operators), then import
it as arp does for --model: report every unsupported operator, or the input
mapping, classes, default attention layer and (with --layers) every layer
that can be tapped, with its shape for one image.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			m, err := onnx.ReadFile(args[0])
			if err != nil {
				return err
			}
			describeONNX(w, m)
			meta, err := onnx.ReadMeta(args[0], m)
			if err != nil {
				return err
			}
			g, err := onnx.Import(m, meta)
			if err != nil {
				return err
			}
			gm := g.Meta()
			fmt.Fprintf(w, "import:     ok\n")
			fmt.Fprintf(w, "fused:      %s (%s=0 imports node by node)\n", g.FusionSummary(), onnx.FuseEnv)
			fmt.Fprintf(w, "image:      input %q, %v (C,H,W)", g.InputName(), g.InputShape())
			if g.BatchSize() > 0 {
				fmt.Fprintf(w, ", fixed batch size %d (run in chunks)", g.BatchSize())
			}
			fmt.Fprintf(w, "\npixels:     x in [0,1] (RGB) -> channel order %s, range %v", gm.ChannelOrder, gm.Range)
			if len(gm.Mean) > 0 || len(gm.Std) > 0 {
				fmt.Fprintf(w, ", mean %v, std %v", gm.Mean, gm.Std)
			}
			fmt.Fprintf(w, "\nlogits:     %q, %d classes", g.OutputName(), g.NumClasses())
			if names := gm.ClassNames; len(names) > 20 {
				fmt.Fprintf(w, ": %s, ... (%d more)", strings.Join(names[:10], ", "), len(names)-10)
			} else if len(names) > 0 {
				fmt.Fprintf(w, ": %s", strings.Join(names, ", "))
			}
			if gm.BackgroundClasses > 0 {
				fmt.Fprintf(w, " (the graph's first %d logits dropped: background_classes)", gm.BackgroundClasses)
			}
			fmt.Fprintf(w, "\nattention:  %s (default layer)\n", gm.AttentionLayer)
			names := g.LayerNames()
			if !layers {
				fmt.Fprintf(w, "layers:     %d (list them with --layers)\n", len(names))
				return nil
			}
			fmt.Fprintf(w, "layers:     %d\n", len(names))
			for _, n := range names {
				s, _ := g.LayerShape(n)
				fmt.Fprintf(w, "  %-50s %v\n", n, s)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&layers, "layers", false, "list every layer that can be tapped, with its shape")
	return cmd
}

func describeONNX(w io.Writer, m *onnx.Model) {
	producer := m.Producer
	if producer == "" {
		producer = "(not recorded)"
	}
	fmt.Fprintf(w, "file:       %s\nproducer:   %s\nformat:     IR %d, opset %d\n", m.Path, producer, m.IRVersion, m.Opset)
	for _, in := range m.Inputs {
		fmt.Fprintf(w, "input:      %s %s\n", in.Name, in.ShapeString())
	}
	for _, out := range m.Outputs {
		fmt.Fprintf(w, "output:     %s %s\n", out.Name, out.ShapeString())
	}
	count := map[string]int{}
	for _, n := range m.Nodes {
		op := n.Op
		if n.Domain != "" {
			op = n.Domain + "." + op
		}
		count[op]++
	}
	ops := slices.Sorted(maps.Keys(count))
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s x%d", op, count[op]))
	}
	fmt.Fprintf(w, "nodes:      %d, %d initialisers\noperators:  %s\n", len(m.Nodes), len(m.Inits), strings.Join(parts, ", "))
}

func newONNXOpsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ops",
		Short: "List the ONNX operators arp imports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "opsets %d to %d (tested: 11, 13, 17); limits in docs/onnx.md\n%s\n",
				onnx.MinOpset, onnx.MaxOpset, strings.Join(onnx.SupportedOps(), "\n"))
			return nil
		},
	}
}

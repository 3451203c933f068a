package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
	"github.com/arp-robustness/arp/viz"
	"github.com/spf13/cobra"
)

func init() { register(newAttackCmd) }

type attackFlags struct {
	model, image, attack, out, label string
	eps                              float64
	seed                             uint64
}

func newAttackCmd(*globalOptions) *cobra.Command {
	f := &attackFlags{}
	cmd := &cobra.Command{
		Use:   "attack --model RUN --image IN.png --attack NAME --eps E --out ADV.png",
		Short: "Attack one image and save the adversarial image",
		Long: `Attack one PNG or JPEG image and write the adversarial image as an 8-bit PNG,
printing the model's predictions (class names from model.json) on the clean image,
on the adversarial image and on the saved PNG.

The image must have the model's size; a colour image cannot go into a gray model
(a gray image is repeated into 3 channels for a colour model). The budget --eps is
on the [0,1] pixel scale (an L2 norm for pgd-l2 and cw-l2; for cw-l2, 0 means
unbounded). The PNG stores 8 bits per channel: pixels are rounded to the nearest
step of 1/255 inside the budget, and the prediction on the saved file is printed
too. --label is the true class (index or name); without it the clean prediction
is used. Attacks: ` + strings.Join(attack.Names(), ", ") + `, with options as
name:key=value:key=value (e.g. pgd:steps=100:restarts=5).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttack(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fl.StringVar(&f.image, "image", "", "input image, PNG or JPEG (required)")
	fl.StringVar(&f.attack, "attack", "pgd", "attack name, with options as name:key=value")
	fl.Float64Var(&f.eps, "eps", 0, "budget on the [0,1] pixel scale (required, except for cw-l2, where it is 0: unbounded, when not given)")
	fl.StringVar(&f.out, "out", "", "adversarial image to write, .png (required)")
	fl.StringVar(&f.label, "label", "", "true class, index or name (default: the clean prediction)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the attack's random choices")
	return cmd
}

func runAttack(cmd *cobra.Command, f *attackFlags) error {
	if f.image == "" {
		return fmt.Errorf("--image is required (a PNG or JPEG file)")
	}
	if f.out == "" {
		return fmt.Errorf("--out is required (a .png file)")
	}
	if !strings.EqualFold(filepath.Ext(f.out), ".png") {
		return fmt.Errorf("--out %s: the adversarial image is written as PNG; use a .png name", f.out)
	}
	if err := job.CheckOutputs(job.Output{Flag: "out", Path: f.out}); err != nil {
		return err
	}
	spec, err := attack.ParseSpec(f.attack)
	if err != nil {
		return err
	}
	norm, _ := attack.Norm(spec.Name)
	if !cmd.Flags().Changed("eps") && spec.Name != "cw-l2" {
		return fmt.Errorf("--eps is required: the budget on the [0,1] pixel scale (e.g. 0.3 for MNIST)")
	}
	if err := attack.CheckBudget("--eps", norm, f.eps, 0); err != nil {
		return err
	}
	spec.Config.Eps = f.eps
	if spec.Config.Seed == 0 {
		spec.Config.Seed = f.seed
	}
	atk, err := spec.New()
	if err != nil {
		return err
	}
	lm, err := openModel(f.model)
	if err != nil {
		return err
	}
	d, err := data.ReadImage(f.image)
	if err != nil {
		return err
	}
	in := lm.InputShape()
	c, h, w := in[0], in[1], in[2]
	pix, notes, err := d.ForModel(f.image, c, h, w, false)
	if err != nil {
		return err
	}
	if err := attack.CheckBudget("--eps", norm, f.eps, c*h*w); err != nil {
		return err
	}
	x := tensor.FromFloat32(append([]float32(nil), pix...), 1, c, h, w)
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "model %s (%s), image %s (%dx%dx%d)\n", lm.Path, lm.Arch, f.image, c, h, w)
	for _, n := range notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	cleanPred, cleanProbs := nn.Predict(lm.Classifier, x.F32(), 1, 1)
	y := cleanPred[0]
	labelNote := "the clean prediction (no --label given)"
	if f.label != "" {
		if y, err = lm.Class("--label", f.label); err != nil {
			return err
		}
		labelNote = "given"
	}
	fmt.Fprintf(out, "label: %d %q, %s\n", y, lm.ClassNames[y], labelNote)
	fmt.Fprintf(out, "attack: %s, %s eps %.4g on the [0,1] pixel scale%s\n", f.attack, normLabel(norm), f.eps, inputScaleNote(lm.Classifier, f.eps))
	fmt.Fprintf(out, "settings: %s\n", attackSettings(atk.Settings()))

	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	adv, err := atk.Perturb(ctx, lm.Classifier, x, []int{y})
	if err != nil {
		return err
	}
	saved := attack.Quantize8(adv.F32(), x.F32(), norm, f.eps)
	advPred, advProbs := nn.Predict(lm.Classifier, adv.F32(), 1, 1)
	savedPred, savedProbs := nn.Predict(lm.Classifier, saved, 1, 1)
	printPrediction(out, "clean", lm.ClassNames, cleanPred[0], cleanProbs[0], nil, nil)
	printPrediction(out, "adversarial", lm.ClassNames, advPred[0], advProbs[0], x.F32(), adv.F32())
	printPrediction(out, "saved PNG", lm.ClassNames, savedPred[0], savedProbs[0], x.F32(), saved)
	img, err := viz.ToImage(saved, c, h, w)
	if err != nil {
		return err
	}
	if err := viz.WritePNG(f.out, img); err != nil {
		return err
	}
	verdict := "failed: the saved image is still classified as the label"
	if savedPred[0] != y {
		verdict = "succeeded: the saved image is misclassified"
	}
	fmt.Fprintf(out, "attack %s; wrote %s\n", verdict, f.out)
	return nil
}

func normLabel(n string) string {
	if n == "l2" {
		return "L2"
	}
	return "L-inf"
}

// inputScaleNote gives eps on the model's input scale when it is known.
func inputScaleNote(m nn.Classifier, eps float64) string {
	_, std, ok := nn.InputNormalization(m)
	if !ok {
		return ""
	}
	var parts []string
	for _, sd := range std {
		parts = append(parts, fmt.Sprintf("%.4g", eps/sd))
	}
	return fmt.Sprintf(" (= %s on the model's input scale)", strings.Join(parts, "/"))
}

// attackSettings lists settings as key=value in key order.
func attackSettings(s map[string]any) string {
	keys := slices.Sorted(maps.Keys(s))
	var parts []string
	for _, k := range keys {
		v := s[k]
		if f, ok := v.(float64); ok {
			v = fmt.Sprintf("%.4g", f)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}

// printPrediction prints the predicted class, its probability, the top
// classes and, for an adversarial image, its distances from the clean one.
func printPrediction(w io.Writer, what string, names []string, pred int, probs []float64, x, adv []float32) {
	order := make([]int, len(probs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	var top []string
	for _, k := range order[:min(3, len(order))] {
		top = append(top, fmt.Sprintf("%s %.1f%%", names[k], 100*probs[k]))
	}
	dist := ""
	if x != nil {
		var linf, s float64
		for i := range x {
			d := math.Abs(float64(adv[i] - x[i]))
			linf = math.Max(linf, d)
			s += d * d
		}
		dist = fmt.Sprintf("  L-inf %.4f L2 %.4f", linf, math.Sqrt(s))
	}
	fmt.Fprintf(w, "%-12s %d %q %.1f%%  (top: %s)%s\n", what+":", pred, names[pred], 100*probs[pred], strings.Join(top, ", "), dist)
}

package main

import (
	"encoding/json"
	"fmt"
	_ "image/jpeg" // decode JPEG files
	_ "image/png"  // decode PNG files
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/explain"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/mask"
	"github.com/spf13/cobra"
)

func init() { register(newExplainCmd) }

// Defaults of arp explain.
const (
	explainDefaultEps = 0.075 // the paper's 0.15 on the [-1,1] scale
)

type explainFlags struct {
	model, image, method, layer, camScale string
	target, label, attack, mask, box, out string
	eps, fraction, objectThreshold        float64
	k, scale                              int
	resize                                bool
	lime                                  explain.LIMEOptions // lime's flags and --seed
}

func explainMethods() []string { return append(attention.Methods(), "lime") }

func newExplainCmd(*globalOptions) *cobra.Command {
	f := &explainFlags{}
	cmd := &cobra.Command{
		Use:   "explain --model RUN --image IN.png --out DIR [flags]",
		Short: "Show where a model looks in an image, clean and under attack",
		Long: `Compute the attention map of one image, optionally attack the image and compute the
adversarial map too, and write to --out DIR:

  overlay_clean.png    the map blended over the image, the attention mask outlined
  overlay_adv.png      the same for the adversarial image (with --attack)
  panel.png            side by side: clean | adversarial | maps | masks
  explanation.json     raw maps, masks, metrics, predictions, all settings, seed, arp version

Methods (--method): gradcam-arp (the ARP paper's variant: normalised gradients, no ReLU,
softmax over positions), gradcam (ReLU, divided by the maximum), gradcam++, and lime
(superpixels, --samples perturbed images, seeded). Grad-CAM maps are taken at --layer
(default: the model's attention layer) and explain --target (default: --label, the true
class, when given, else the prediction); the adversarial map explains the same class.

Masks (--mask): mean (map > its mean), topk (the --k highest cells of the layer's map,
default 7; for lime the --k best positively weighted superpixels, default 10), area (the
top |G| pixels, |G| the ground-truth area) and fraction (map >= --fraction * max).
Default: mean for Grad-CAM, topk for lime.

Ground truth: --box X0,Y0,X1,Y1 (pixels of the model-size image, half-open), else for
1-channel (digit-like) images the pixels brighter than --object-threshold. With a ground
truth the JSON reports coverage |A and G|/|G| and IoU |A and G|/|A or G| of each mask.

Attacks (--attack): ` + strings.Join(attack.Names(), ", ") + `, with options as
NAME:key=value (e.g. pgd:steps=20); --eps is the budget on the [0,1] pixel scale
(default 0.075, the paper's 0.15 on [-1,1]). The attack uses --label, else the prediction.

The image (PNG or JPEG) must have the model's size (or pass --resize); gray images are
repeated for 3-channel models and RGB images whose pixels are all gray are accepted by
1-channel models; colour images are refused by 1-channel models.`,
		Example: `  arp explain --model runs/arp --image digit.png --label 7 --attack step-ll --out explain/
  arp explain --model runs/arp --image digit.png --method lime --samples 500 --seed 3 --out explain-lime/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExplain(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.StringVar(&f.model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fl.StringVar(&f.image, "image", "", "PNG or JPEG image (required)")
	fl.StringVar(&f.out, "out", "", "output directory (required)")
	fl.StringVar(&f.method, "method", "gradcam-arp", "attention method: "+strings.Join(explainMethods(), ", "))
	fl.StringVar(&f.layer, "layer", "", "Grad-CAM layer (default: the model's attention layer)")
	fl.StringVar(&f.camScale, "cam-scale", "max", "gradcam, gradcam++: divide the ReLU map by its maximum (max) or subtract its minimum first as pytorch-grad-cam does (min-max)")
	fl.StringVar(&f.target, "target", "", "class the map explains, index or name (default: --label, else the prediction)")
	fl.StringVar(&f.label, "label", "", "the image's true class, index or name (optional)")
	fl.StringVar(&f.attack, "attack", "", "attack the image: NAME[:key=value...] (see above)")
	fl.Float64Var(&f.eps, "eps", explainDefaultEps, "attack budget on the [0,1] pixel scale")
	fl.StringVar(&f.mask, "mask", "", "mask threshold: "+strings.Join(attention.MaskMethods(), ", ")+" (default mean; topk for lime)")
	fl.IntVar(&f.k, "k", 0, "topk: number of cells (0: 7) or, for lime, superpixels (0: 10)")
	fl.Float64Var(&f.fraction, "fraction", attention.DefaultFraction, "fraction: share of the map's maximum")
	fl.IntVar(&f.lime.Samples, "samples", 1000, "lime: number of perturbed images")
	fl.StringVar(&f.lime.Segmenter, "segmenter", "auto", "lime: superpixels by quickshift, slic, or auto (slic for images under 64 pixels, else quickshift)")
	fl.IntVar(&f.lime.Superpixels, "superpixels", 50, "lime with slic: approximate number of superpixels")
	fl.Float64Var(&f.lime.KernelSize, "kernel-size", 4, "lime with quickshift: kernel size")
	fl.Float64Var(&f.lime.MaxDist, "max-dist", 200, "lime with quickshift: maximum link distance")
	fl.Uint64Var(&f.lime.Seed, "seed", 1, "seed of lime's sampling and of random attacks")
	fl.StringVar(&f.box, "box", "", "ground-truth box X0,Y0,X1,Y1 in pixels (half-open)")
	fl.Float64Var(&f.objectThreshold, "object-threshold", data.DigitThreshold, "1-channel images: ground truth = pixels above this (negative: none)")
	fl.BoolVar(&f.resize, "resize", false, "resize the image to the model's input size (bilinear)")
	fl.IntVar(&f.scale, "scale", 0, "enlarge the pictures by this factor (0: automatic for small images)")
	return cmd
}

// parseBox reads --box X0,Y0,X1,Y1: a non-empty box inside an h x w
// image.
func parseBox(s string, h, w int) (*mask.Box, error) {
	parts := strings.Split(s, ",")
	var v [4]int
	if len(parts) != 4 {
		return nil, fmt.Errorf("--box %q: want X0,Y0,X1,Y1 (4 integers)", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("--box %q: %q is not an integer", s, p)
		}
		v[i] = n
	}
	b := mask.Box{XMin: v[0], YMin: v[1], XMax: v[2], YMax: v[3]}
	// as the VOC loader: a box that does not fit the image is refused,
	// not clipped
	if b.XMin < 0 || b.YMin < 0 || b.XMax > w || b.YMax > h {
		return nil, fmt.Errorf("--box %q lies outside the %dx%d image (x in [0,%d], y in [0,%d])", s, w, h, w, h)
	}
	m, err := mask.BoxMask(h, w, b)
	if err != nil {
		return nil, fmt.Errorf("--box %q: %v", s, err)
	}
	if mask.Count(m) == 0 {
		return nil, fmt.Errorf("--box %q is empty", s)
	}
	return &b, nil
}

func runExplain(cmd *cobra.Command, f *explainFlags) error {
	ctx := cmdContext(cmd)
	// flags that need nothing loaded first
	if f.image == "" {
		return fmt.Errorf("--image is required (a PNG or JPEG file)")
	}
	if f.out == "" {
		return fmt.Errorf("--out DIR is required")
	}
	if err := job.CheckOutputs(job.Output{Flag: "out", Path: f.out, Dir: true}); err != nil {
		return err
	}
	if err := checkExplainFlags(cmd.Flags(), f); err != nil {
		return err
	}
	isLime := f.method == "lime"
	var meth attention.Method
	if !isLime {
		var err error
		if meth, err = attention.MethodByName(f.method, false); err != nil {
			return fmt.Errorf("unknown method %q; known: %s", f.method, strings.Join(explainMethods(), ", "))
		}
		if meth, err = attention.WithScaling(meth, f.camScale); err != nil {
			return fmt.Errorf("--cam-scale: %v", err)
		}
		f.method = meth.Name // the canonical name of an alias
	} else if f.camScale != "max" {
		return fmt.Errorf("--cam-scale applies to gradcam and gradcam++, not LIME")
	}
	maskOpt := explain.MaskDefaults(f.method, attention.MaskOptions{Method: f.mask, K: f.k, Fraction: f.fraction})
	if err := maskOpt.Validate(); err != nil {
		return fmt.Errorf("--mask: %v", strings.TrimPrefix(err.Error(), "attention: "))
	}
	if isLime {
		if f.layer != "" {
			return fmt.Errorf("--layer applies to the Grad-CAM methods, not to lime")
		}
		if f.lime.Segmenter != "quickshift" && f.lime.Segmenter != "slic" && f.lime.Segmenter != "auto" {
			return fmt.Errorf("--segmenter %q: want quickshift, slic or auto", f.lime.Segmenter)
		}
	}
	var atk attack.Attack
	if f.attack != "" {
		spec, err := attack.ParseSpec(f.attack)
		if err != nil {
			return err
		}
		spec.Config.Eps = f.eps
		if spec.Config.Seed == 0 {
			spec.Config.Seed = f.lime.Seed
		}
		if atk, err = spec.New(); err != nil {
			return err
		}
	}

	m, err := openModel(f.model)
	if err != nil {
		return err
	}
	in := m.InputShape()
	c, H, W := in[0], in[1], in[2]
	layer := ""
	if !isLime {
		if layer, err = m.MapLayer(f.layer); err != nil {
			return err
		}
	}
	scale, err := explain.PictureScale(H, W, f.scale)
	if err != nil {
		return fmt.Errorf("--%v", err)
	}
	dec, err := data.ReadImage(f.image)
	if err != nil {
		return err
	}
	img, notes, err := dec.ForModel(f.image, c, H, W, f.resize)
	if err != nil {
		return err
	}

	label := -1
	if f.label != "" {
		if label, err = m.Class("--label", f.label); err != nil {
			return err
		}
	}

	// ground truth
	var box *mask.Box
	if f.box != "" {
		if box, err = parseBox(f.box, H, W); err != nil {
			return err
		}
	}
	gt, gtInfo := explain.Truth(img, c, H, W, box, f.objectThreshold)
	if maskOpt.Method == attention.MaskArea {
		if gt == nil {
			return fmt.Errorf("--mask area needs a ground-truth region: pass --box (object masks exist only for 1-channel images with pixels above --object-threshold)")
		}
		maskOpt.Area = mask.Count(gt)
	}

	target := -1
	if f.target != "" {
		if target, err = m.Class("--target", f.target); err != nil {
			return err
		}
	}
	x, err := explain.Explain(ctx, explain.Request{Model: m, Image: img, Method: f.method, Mask: maskOpt,
		CAM:   attention.Options{Layer: layer, Method: meth},
		LIME:  f.lime,
		Label: label, Target: target, Attack: atk})
	if err != nil {
		return err
	}

	// pictures and explanation.json
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("--out: %v", err)
	}
	files, err := x.WritePictures(f.out, gt, scale)
	if err != nil {
		return err
	}
	ro := explain.RecordOptions{Version: arpVersion(), Truth: gt, GroundTruth: gtInfo, AttackSpec: f.attack, Seed: f.lime.Seed, Scale: scale, Files: append(files, "explanation.json"),
		Image: explain.ImageInfo{Path: f.image, Format: dec.Format, Height: dec.H, Width: dec.W, Notes: notes, Channels: 3}}
	if dec.Gray {
		ro.Image.Channels = 1
	}
	rec := x.Record(ro)
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("explanation.json: %v", err)
	}
	if err := checkpoint.AtomicWriteFile(filepath.Join(f.out, "explanation.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}

	rec.Summary(cmd.OutOrStdout(), f.eps)
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s\n", f.out, strings.Join(rec.Files, ", "))
	return nil
}

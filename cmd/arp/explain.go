package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decode JPEG files
	_ "image/png"  // decode PNG files
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/lime/segment"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
	"github.com/arp-robustness/arp/viz"
	"github.com/spf13/cobra"
)

func init() { register(newExplainCmd) }

// Defaults of arp explain.
const (
	explainDefaultEps     = 0.075   // the paper's 0.15 on the [-1,1] scale
	explainLimeTopK       = 10      // the paper's top 10 positive superpixels
	explainMaxPixels      = 1 << 23 // larger images are refused before decoding
	explainPanelMinPixels = 160     // small images are enlarged to at least this size
)

type explainFlags struct {
	model, image, method, layer string
	camScale                    string
	target, label               string
	attack                      string
	eps                         float64
	mask                        string
	k                           int
	fraction                    float64
	samples                     int
	segmenter                   string
	superpixels                 int
	kernelSize, maxDist         float64
	seed                        uint64
	box                         string
	objectThreshold             float64
	resize                      bool
	scale                       int
	out                         string
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
	fl.IntVar(&f.k, "k", 0, "topk: number of cells (default 7) or, for lime, superpixels (default 10)")
	fl.Float64Var(&f.fraction, "fraction", attention.DefaultFraction, "fraction: share of the map's maximum")
	fl.IntVar(&f.samples, "samples", 1000, "lime: number of perturbed images")
	fl.StringVar(&f.segmenter, "segmenter", "auto", "lime: superpixels by quickshift, slic, or auto (slic for images under 64 pixels, else quickshift)")
	fl.IntVar(&f.superpixels, "superpixels", 50, "lime with slic: approximate number of superpixels")
	fl.Float64Var(&f.kernelSize, "kernel-size", 4, "lime with quickshift: kernel size")
	fl.Float64Var(&f.maxDist, "max-dist", 200, "lime with quickshift: maximum link distance")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of lime's sampling and of random attacks")
	fl.StringVar(&f.box, "box", "", "ground-truth box X0,Y0,X1,Y1 in pixels (half-open)")
	fl.Float64Var(&f.objectThreshold, "object-threshold", data.DigitThreshold, "1-channel images: ground truth = pixels above this (negative: none)")
	fl.BoolVar(&f.resize, "resize", false, "resize the image to the model's input size (bilinear)")
	fl.IntVar(&f.scale, "scale", 0, "enlarge the pictures by this factor (0: automatic for small images)")
	return cmd
}

// loadedModel is a classifier opened from the command line, with what
// commands report about it.
type loadedModel struct {
	nn.Classifier
	Path       string
	Format     string   // "arp-run" or "onnx"
	Arch       string   // architecture name
	Dataset    string   // training data, if recorded
	ClassNames []string // one per class (the class indices when the model has none)
	Attention  string   // default attention layer
	Info       *nn.Info // model.json of a run directory (nil for ONNX files)
}

// resolveModel opens the model a command line names: an arp run directory
// (model.json + model.safetensors, see nn.SaveRun) or an ONNX file with its
// optional metadata file (see package modelio and docs/onnx.md).
func resolveModel(path string) (*loadedModel, error) {
	if path == "" {
		return nil, fmt.Errorf("--model is required (an arp run directory or a .onnx file)")
	}
	c, meta, err := modelio.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model %w", err)
	}
	names := meta.ClassNames
	if len(names) != c.NumClasses() {
		names = make([]string, c.NumClasses())
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
	}
	lm := &loadedModel{Classifier: c, Path: path, ClassNames: names, Attention: meta.AttentionLayer, Info: meta.Info}
	switch meta.Kind {
	case modelio.KindRun:
		lm.Format, lm.Arch, lm.Dataset = "arp-run", meta.Info.Spec.Arch, meta.Info.Dataset
	case modelio.KindONNX:
		lm.Format, lm.Arch = "onnx", "onnx"
	}
	return lm, nil
}

// parseClass reads a class given as an index or a name.
func parseClass(flag, s string, names []string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n >= len(names) {
			return 0, fmt.Errorf("--%s %d: class index outside [0,%d)", flag, n, len(names))
		}
		return n, nil
	}
	for i, name := range names {
		if strings.EqualFold(name, s) {
			return i, nil
		}
	}
	show := names
	if len(show) > 12 {
		show = append(append([]string(nil), show[:12]...), "...")
	}
	return 0, fmt.Errorf("--%s %q: not a class index in [0,%d) or a class name (%s)", flag, s, len(names), strings.Join(show, ", "))
}

// decodedImage is a decoded PNG or JPEG file.
type decodedImage struct {
	Format string
	H, W   int
	Gray   bool      // every pixel has R = G = B
	Pix    []float32 // CHW: 1 plane when Gray, else R, G, B planes; values in [0,1]
	Alpha  bool      // some pixel is not opaque (composited onto black)
}

// decodeImageFile decodes PNG or JPEG bytes; name is used in errors.
func decodeImageFile(name string, b []byte) (*decodedImage, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("image %s: not a PNG or JPEG file (%v)", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > explainMaxPixels {
		return nil, fmt.Errorf("image %s: unsupported %s size %dx%d", name, format, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("image %s: corrupt %s file: %v", name, format, err)
	}
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("image %s: empty image", name)
	}
	d := &decodedImage{Format: format, H: h, W: w}
	rgb := make([]float32, 3*h*w)
	var spread uint32 // largest difference between the channels of a pixel
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			cr, cg, cb, ca := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
			if ca != 0xffff {
				d.Alpha = true
			}
			spread = max(spread, max(cr, cg, cb)-min(cr, cg, cb))
			i := y*w + x
			rgb[i], rgb[h*w+i], rgb[2*h*w+i] = float32(cr)/65535, float32(cg)/65535, float32(cb)/65535
		}
	}
	// gray: a gray colour model, or R = G = B everywhere; JPEG's lossy
	// chroma may leave a gray picture a few levels off
	tol := uint32(0)
	if format == "jpeg" {
		tol = 3 * 0x101
	}
	switch m := img.ColorModel(); {
	case m == color.GrayModel || m == color.Gray16Model || spread == 0:
		d.Gray, d.Pix = true, rgb[:h*w]
	case spread <= tol:
		d.Gray, d.Pix = true, rgb[:h*w]
		for i := range d.Pix {
			d.Pix[i] = (rgb[i] + rgb[h*w+i] + rgb[2*h*w+i]) / 3
		}
	default:
		d.Pix = rgb
	}
	return d, nil
}

// modelImage converts a decoded image to the model's c x h x w input:
// channels only when unambiguous, size only with resize.
func modelImage(name string, d *decodedImage, c, h, w int, resize bool) (img []float32, notes []string, err error) {
	have := 3
	if d.Gray {
		have = 1
	}
	switch {
	case c == have:
		img = d.Pix
	case c == 3 && have == 1:
		img = append(append(append([]float32(nil), d.Pix...), d.Pix...), d.Pix...)
		notes = append(notes, "gray image repeated into 3 channels")
	case c == 1 && have == 3:
		return nil, nil, fmt.Errorf("image %s is a colour (RGB) image but the model takes 1-channel (gray) images; convert it to grayscale first", name)
	default:
		return nil, nil, fmt.Errorf("image %s: the model takes %d-channel images; explain reads gray (1) or RGB (3) images", name, c)
	}
	if d.Alpha {
		notes = append(notes, "transparent pixels composited onto black")
	}
	if d.H != h || d.W != w {
		if !resize {
			return nil, nil, fmt.Errorf("image %s is %dx%d (height x width) but the model takes %dx%d images; pass --resize to resize it", name, d.H, d.W, h, w)
		}
		out := make([]float32, 0, c*h*w)
		for k := 0; k < c; k++ {
			p := mask.ResizeBilinear(img[k*d.H*d.W:(k+1)*d.H*d.W], d.H, d.W, h, w)
			for i := range p {
				p[i] = min(1, max(0, p[i]))
			}
			out = append(out, p...)
		}
		img = out
		notes = append(notes, fmt.Sprintf("resized from %dx%d to %dx%d (bilinear)", d.H, d.W, h, w))
	}
	return img, notes, nil
}

// parseBox reads X0,Y0,X1,Y1.
func parseBox(s string, h, w int) ([]bool, mask.Box, error) {
	parts := strings.Split(s, ",")
	var v [4]int
	if len(parts) != 4 {
		return nil, mask.Box{}, fmt.Errorf("--box %q: want X0,Y0,X1,Y1 (4 integers)", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, mask.Box{}, fmt.Errorf("--box %q: %q is not an integer", s, p)
		}
		v[i] = n
	}
	b := mask.Box{XMin: v[0], YMin: v[1], XMax: v[2], YMax: v[3]}
	m, err := mask.BoxMask(h, w, b)
	if err != nil {
		return nil, b, fmt.Errorf("--box %q: %v", s, err)
	}
	if mask.Count(m) == 0 {
		return nil, b, fmt.Errorf("--box %q is empty", s)
	}
	return m, b, nil
}

// JSON records of explanation.json.

type classProb struct {
	Class       int     `json:"class"`
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

type mapRecord struct {
	H      int       `json:"h"`
	W      int       `json:"w"`
	Values []float32 `json:"values"`
}

type maskRecord struct {
	H      int   `json:"h"`
	W      int   `json:"w"`
	Area   int   `json:"area"`
	Values []int `json:"values"` // row-major 0/1
}

type scatterRecord struct {
	Components   int     `json:"components"`
	Largest      int     `json:"largest"`
	LargestShare float64 `json:"largest_share"`
}

type limeRecord struct {
	Superpixels int           `json:"superpixels"`
	Weights     []segmentProb `json:"weights"` // selected superpixels by decreasing |weight|
	Intercept   float64       `json:"intercept"`
	Score       float64       `json:"score"`
	Segments    []int32       `json:"segments"` // row-major superpixel label of each pixel
}

type segmentProb struct {
	Segment int     `json:"segment"`
	Weight  float64 `json:"weight"`
}

type viewRecord struct {
	Prediction        classProb   `json:"prediction"`
	TargetProbability float64     `json:"target_probability"`
	Probabilities     []classProb `json:"probabilities"`
	// Map is the map at the layer's resolution (Grad-CAM) or at input
	// resolution (LIME); MapUpsampled the Grad-CAM map at input resolution.
	Map               mapRecord     `json:"map"`
	MapUpsampled      *mapRecord    `json:"map_upsampled,omitempty"`
	Mask              maskRecord    `json:"mask"`
	Scatter           scatterRecord `json:"scatter"`
	Entropy           *float64      `json:"entropy"`            // nats, of the map normalised to sum 1
	NormalizedEntropy *float64      `json:"normalized_entropy"` // entropy / log(pixels)
	Centroid          []float64     `json:"centroid,omitempty"` // row, column in pixels
	Coverage          *float64      `json:"coverage,omitempty"` // |mask and G| / |G|
	IoUGroundTruth    *float64      `json:"iou_ground_truth,omitempty"`
	PointingGame      *bool         `json:"pointing_game,omitempty"`
	Lime              *limeRecord   `json:"lime,omitempty"`
	// adversarial view only
	Linf    *float64 `json:"linf,omitempty"`
	Success *bool    `json:"attack_success,omitempty"` // prediction differs from the attack's label
}

type explainRecord struct {
	ArpVersion string `json:"arp_version"`
	Model      struct {
		Path    string   `json:"path"`
		Format  string   `json:"format"`
		Arch    string   `json:"arch"`
		Dataset string   `json:"dataset,omitempty"`
		Classes []string `json:"classes"`
	} `json:"model"`
	Image struct {
		Path     string   `json:"path"`
		Format   string   `json:"format"`
		Height   int      `json:"height"`
		Width    int      `json:"width"`
		Channels int      `json:"channels"`
		Notes    []string `json:"notes,omitempty"`
		Label    *int     `json:"label"`
	} `json:"image"`
	Settings struct {
		Method       string                `json:"method"`
		Layer        string                `json:"layer,omitempty"`
		Target       classProb             `json:"target"` // probability on the clean image
		TargetSource string                `json:"target_source"`
		Mask         attention.MaskOptions `json:"mask"`
		MaskUnit     string                `json:"mask_unit"` // what topk counts
		Lime         map[string]any        `json:"lime,omitempty"`
		Attack       map[string]any        `json:"attack,omitempty"`
		Seed         uint64                `json:"seed"`
		Scale        int                   `json:"picture_scale"`
	} `json:"settings"`
	GroundTruth *struct {
		Source string `json:"source"`
		Area   int    `json:"area"`
		Box    []int  `json:"box"` // x0, y0, x1, y1 (half-open)
	} `json:"ground_truth"`
	Clean       viewRecord  `json:"clean"`
	Adversarial *viewRecord `json:"adversarial,omitempty"`
	Comparison  *struct {
		IoU               float64  `json:"iou_clean_adv"`
		CentroidShift     *float64 `json:"centroid_shift"` // pixels
		SpearmanRank      *float64 `json:"spearman_rank"`  // of the maps in "map"
		ComponentsClean   int      `json:"components_clean"`
		ComponentsAdv     int      `json:"components_adv"`
		PredictionChanged bool     `json:"prediction_changed"`
	} `json:"comparison,omitempty"`
	Files []string `json:"files"`
}

// num returns v for JSON, or nil when it is not a finite number.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// explainView is the map and mask of one image.
type explainView struct {
	img          []float32
	pred         int
	probs        []float64
	coarse       []float32 // h x w
	h, w         int
	up           []float32 // H x W
	mask         []bool
	lime         *lime.ImageExplanation
	limeSegments []int // the mask's superpixels (lime topk)
}

// explainer computes views with fixed settings.
type explainer struct {
	m        *loadedModel
	method   string
	camOpt   attention.Options
	maskOpt  attention.MaskOptions
	limeOpt  lime.ImageOptions
	target   int
	c, H, W  int
	gtArea   int
	classify lime.ClassifyImages
}

func (e *explainer) view(ctx context.Context, img []float32) (*explainView, error) {
	v := &explainView{img: img}
	if err := autograd.Try(func() {
		pred, probs := nn.Predict(e.m, img, 1, 1)
		v.pred, v.probs = pred[0], probs[0]
	}); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	if e.method == "lime" {
		ex, err := lime.ExplainImage(ctx, img, e.c, e.H, e.W, e.classify, e.limeOpt)
		if err != nil {
			return nil, fmt.Errorf("lime: %v", err)
		}
		mp, err := ex.Map(e.target)
		if err != nil {
			return nil, fmt.Errorf("lime: %v", err)
		}
		v.lime, v.coarse, v.up, v.h, v.w = ex, mp, mp, e.H, e.W
		if e.maskOpt.Method == attention.MaskTopK {
			v.limeSegments, err = ex.TopSegments(e.target, e.maskOpt.K, true)
			if err == nil {
				v.mask, err = ex.Mask(e.target, e.maskOpt.K)
			}
			if err != nil {
				return nil, fmt.Errorf("lime: %v", err)
			}
			return v, nil
		}
	} else {
		set, err := attention.Maps(e.m, tensor.FromFloat32(img, 1, e.c, e.H, e.W), []int{e.target}, e.camOpt)
		if err != nil {
			return nil, err
		}
		v.coarse, v.up, v.h, v.w = set.Coarse[0], set.Up[0], set.H, set.W
	}
	if err := mask.CheckMap(v.up, e.H, e.W); err != nil {
		return nil, fmt.Errorf("the %s map is not finite (%v); is the model's output finite?", e.method, err)
	}
	var err error
	v.mask, err = attention.BinaryMask(v.coarse, v.h, v.w, v.up, e.H, e.W, e.maskOpt)
	return v, err
}

func runExplain(cmd *cobra.Command, f *explainFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// flags that need nothing loaded first
	if f.image == "" {
		return fmt.Errorf("--image is required (a PNG or JPEG file)")
	}
	if f.out == "" {
		return fmt.Errorf("--out DIR is required")
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
	maskOpt := attention.MaskOptions{Method: f.mask, K: f.k, Fraction: f.fraction}
	if maskOpt.Method == "" {
		maskOpt.Method = attention.MaskMean
		if isLime {
			maskOpt.Method = attention.MaskTopK
		}
	}
	if isLime && maskOpt.Method == attention.MaskTopK && maskOpt.K == 0 {
		maskOpt.K = explainLimeTopK
	}
	if maskOpt.Method == attention.MaskArea {
		maskOpt.Area = 1 // checked again once the ground truth is known
	}
	maskOpt = maskOpt.WithDefaults()
	if err := maskOpt.Validate(); err != nil {
		return fmt.Errorf("--mask: %v", strings.TrimPrefix(err.Error(), "attention: "))
	}
	if isLime {
		if f.layer != "" {
			return fmt.Errorf("--layer applies to the Grad-CAM methods, not to lime")
		}
		if f.samples < 2 {
			return fmt.Errorf("--samples %d: lime needs at least 2 samples", f.samples)
		}
		if f.segmenter != "quickshift" && f.segmenter != "slic" && f.segmenter != "auto" {
			return fmt.Errorf("--segmenter %q: want quickshift, slic or auto", f.segmenter)
		}
		if f.superpixels < 1 {
			return fmt.Errorf("--superpixels %d: want at least 1", f.superpixels)
		}
		if !(f.kernelSize > 0) || !(f.maxDist > 0) {
			return fmt.Errorf("--kernel-size %g, --max-dist %g: both must be > 0", f.kernelSize, f.maxDist)
		}
	}
	if f.scale < 0 {
		return fmt.Errorf("--scale %d: want a positive factor (0: automatic)", f.scale)
	}
	var atk attack.Attack
	if f.attack != "" {
		spec, err := attack.ParseSpec(f.attack)
		if err != nil {
			return err
		}
		spec.Config.Eps = f.eps
		if spec.Config.Seed == 0 {
			spec.Config.Seed = f.seed
		}
		if atk, err = spec.New(); err != nil {
			return err
		}
	}

	m, err := resolveModel(f.model)
	if err != nil {
		return err
	}
	in := m.InputShape()
	c, H, W := in[0], in[1], in[2]
	layer := ""
	if !isLime {
		layer = f.layer
		if layer == "" {
			layer = m.Attention
		}
		spatial, err := attention.SpatialLayers(m)
		if err != nil {
			return err
		}
		if !slices.Contains(spatial, layer) {
			if nn.CheckLayer(m, layer) == nil {
				return fmt.Errorf("--layer %q has no spatial map (its output is not [N,C,H,W]); layers with maps: %s", layer, strings.Join(spatial, ", "))
			}
			return fmt.Errorf("--layer: unknown layer %q; layers with maps: %s", layer, strings.Join(spatial, ", "))
		}
	}
	b, err := os.ReadFile(f.image)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("image %s: no such file", f.image)
		}
		return fmt.Errorf("image %s: %v", f.image, err)
	}
	dec, err := decodeImageFile(f.image, b)
	if err != nil {
		return err
	}
	img, notes, err := modelImage(f.image, dec, c, H, W, f.resize)
	if err != nil {
		return err
	}

	label := -1
	if f.label != "" {
		if label, err = parseClass("label", f.label, m.ClassNames); err != nil {
			return err
		}
	}

	// ground truth
	var gt []bool
	var gtBox mask.Box
	gtSource := ""
	if f.box != "" {
		if gt, gtBox, err = parseBox(f.box, H, W); err != nil {
			return err
		}
		gtSource = "box"
	} else if c == 1 && f.objectThreshold >= 0 {
		var ok bool
		gt, _, ok = data.ObjectMask(img, H, W, float32(f.objectThreshold))
		if ok {
			gtBox, _ = mask.Bounds(gt, H, W)
			gtSource = fmt.Sprintf("object pixels above %g", f.objectThreshold)
		} else {
			gt = nil
		}
	}
	if maskOpt.Method == attention.MaskArea {
		if gt == nil {
			return fmt.Errorf("--mask area needs a ground-truth region: pass --box (object masks exist only for 1-channel images with pixels above --object-threshold)")
		}
		maskOpt.Area = mask.Count(gt)
	}

	ex := &explainer{m: m, method: f.method, maskOpt: maskOpt, c: c, H: H, W: W,
		camOpt: attention.Options{Layer: layer, Method: meth}}
	ex.classify = func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		var probs [][]float64
		err := autograd.Try(func() { _, probs = nn.Predict(m, batch, n, 100) })
		return probs, err
	}

	// the clean prediction decides the default target
	var pred []int
	var probs [][]float64
	if err := autograd.Try(func() { pred, probs = nn.Predict(m, img, 1, 1) }); err != nil {
		return fmt.Errorf("model: %v", err)
	}
	targetSource := "prediction"
	ex.target = pred[0]
	if label >= 0 {
		ex.target, targetSource = label, "label"
	}
	if f.target != "" {
		if ex.target, err = parseClass("target", f.target, m.ClassNames); err != nil {
			return err
		}
		targetSource = "--target"
	}
	limeSettings := map[string]any{}
	if isLime {
		o := lime.DefaultImageOptions()
		o.NumSamples, o.Seed, o.Labels, o.BatchSize = f.samples, f.seed, []int{ex.target}, 100
		segmenter := f.segmenter
		if segmenter == "auto" {
			segmenter = "quickshift"
			if max(H, W) < 64 {
				segmenter = "slic"
			}
		}
		if segmenter == "slic" {
			so := segment.DefaultSLICOptions()
			so.NumSegments = f.superpixels
			o.Segmenter = lime.SLICSegmenter(so)
			limeSettings["superpixels"] = f.superpixels
		} else {
			qo := segment.DefaultQuickshiftOptions()
			qo.Seed, qo.MaxDist, qo.KernelSize = f.seed, f.maxDist, f.kernelSize
			o.Segmenter = lime.QuickshiftSegmenter(qo)
			limeSettings["kernel_size"], limeSettings["max_dist"], limeSettings["ratio"] = qo.KernelSize, qo.MaxDist, qo.Ratio
		}
		ex.limeOpt = o
		limeSettings["samples"], limeSettings["segmenter"], limeSettings["seed"] = f.samples, segmenter, f.seed
		limeSettings["kernel_width"], limeSettings["ridge_alpha"], limeSettings["hide"] = o.KernelWidth, o.Alpha, "superpixel mean colour"
	}

	clean, err := ex.view(ctx, img)
	if err != nil {
		return err
	}
	var adv *explainView
	attackLabel := -1
	if atk != nil {
		attackLabel = pred[0]
		if label >= 0 {
			attackLabel = label
		}
		var xadv *tensor.Tensor
		var aerr error
		if err := autograd.Try(func() {
			xadv, aerr = atk.Perturb(ctx, m, tensor.FromFloat32(img, 1, c, H, W), []int{attackLabel})
		}); err != nil || aerr != nil {
			if err == nil {
				err = aerr
			}
			return fmt.Errorf("--attack %s: %v", atk.Name(), err)
		}
		if adv, err = ex.view(ctx, xadv.Float32s()); err != nil {
			return err
		}
	}

	// pictures
	scale := f.scale
	if scale == 0 {
		scale = max(1, (explainPanelMinPixels+max(H, W)-1)/max(H, W))
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("--out: %v", err)
	}
	files, err := writeExplainPictures(f.out, ex, clean, adv, gt, scale, m.ClassNames)
	if err != nil {
		return err
	}

	// explanation.json
	rec := &explainRecord{ArpVersion: arpVersion()}
	rec.Model.Path, rec.Model.Format, rec.Model.Arch, rec.Model.Dataset, rec.Model.Classes = m.Path, m.Format, m.Arch, m.Dataset, m.ClassNames
	rec.Image.Path, rec.Image.Format, rec.Image.Height, rec.Image.Width, rec.Image.Notes = f.image, dec.Format, dec.H, dec.W, notes
	rec.Image.Channels = 3
	if dec.Gray {
		rec.Image.Channels = 1
	}
	if label >= 0 {
		rec.Image.Label = &label
	}
	s := &rec.Settings
	s.Method, s.Layer, s.TargetSource, s.Mask, s.Seed, s.Scale = f.method, layer, targetSource, maskOpt, f.seed, scale
	s.Target = classProb{ex.target, m.ClassNames[ex.target], probs[0][ex.target]}
	s.MaskUnit = "pixels"
	switch {
	case maskOpt.Method == attention.MaskTopK && isLime:
		s.MaskUnit = "superpixels (positively weighted)"
	case maskOpt.Method == attention.MaskTopK:
		s.MaskUnit = fmt.Sprintf("cells of the %dx%d layer map", clean.h, clean.w)
	}
	if isLime {
		s.Lime = limeSettings
	}
	if atk != nil {
		s.Attack = atk.Settings()
		s.Attack["spec"] = f.attack
		s.Attack["label"] = attackLabel
	}
	if gt != nil {
		rec.GroundTruth = &struct {
			Source string `json:"source"`
			Area   int    `json:"area"`
			Box    []int  `json:"box"`
		}{gtSource, mask.Count(gt), []int{gtBox.XMin, gtBox.YMin, gtBox.XMax, gtBox.YMax}}
	}
	rec.Clean = ex.record(clean, gt)
	if adv != nil {
		r := ex.record(adv, gt)
		linf := 0.0
		for i := range img {
			linf = math.Max(linf, math.Abs(float64(adv.img[i]-img[i])))
		}
		success := adv.pred != attackLabel
		r.Linf, r.Success = &linf, &success
		rec.Adversarial = &r
		comp := &struct {
			IoU               float64  `json:"iou_clean_adv"`
			CentroidShift     *float64 `json:"centroid_shift"`
			SpearmanRank      *float64 `json:"spearman_rank"`
			ComponentsClean   int      `json:"components_clean"`
			ComponentsAdv     int      `json:"components_adv"`
			PredictionChanged bool     `json:"prediction_changed"`
		}{}
		comp.IoU = mask.IoU(clean.mask, adv.mask)
		comp.CentroidShift = num(mask.CentroidShift(clean.up, adv.up, H, W))
		comp.SpearmanRank = num(mask.SpearmanRank(clean.coarse, adv.coarse))
		comp.ComponentsClean, comp.ComponentsAdv = rec.Clean.Scatter.Components, r.Scatter.Components
		comp.PredictionChanged = adv.pred != clean.pred
		rec.Comparison = comp
	}
	rec.Files = append(files, "explanation.json")
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("explanation.json: %v", err)
	}
	if err := viz.WriteFileAtomic(filepath.Join(f.out, "explanation.json"), append(js, '\n')); err != nil {
		return err
	}

	// summary
	w := cmd.OutOrStdout()
	desc := f.method
	if layer != "" {
		desc += " at " + layer
	}
	fmt.Fprintf(w, "clean:       predicted %s (p=%.3f); %s map of class %s (%s)\n", m.ClassNames[clean.pred], clean.probs[clean.pred], desc, m.ClassNames[ex.target], targetSource)
	fmt.Fprintf(w, "             %s mask: %d pixels%s\n", maskOpt.Method, mask.Count(clean.mask), gtSummary(rec.Clean))
	if adv != nil {
		fmt.Fprintf(w, "adversarial: predicted %s (p=%.3f) after %s (eps %g); %s mask: %d pixels%s\n", m.ClassNames[adv.pred], adv.probs[adv.pred],
			atk.Name(), f.eps, maskOpt.Method, mask.Count(adv.mask), gtSummary(*rec.Adversarial))
		fmt.Fprintf(w, "             IoU clean/adversarial mask %.3f, components %d -> %d\n", rec.Comparison.IoU, rec.Comparison.ComponentsClean, rec.Comparison.ComponentsAdv)
	}
	fmt.Fprintf(w, "wrote %s: %s\n", f.out, strings.Join(rec.Files, ", "))
	return nil
}

func gtSummary(r viewRecord) string {
	if r.Coverage == nil {
		return ""
	}
	return fmt.Sprintf(", coverage of the ground truth %.3f, IoU with it %.3f", *r.Coverage, *r.IoUGroundTruth)
}

// record builds the JSON record of a view.
func (e *explainer) record(v *explainView, gt []bool) viewRecord {
	names := e.m.ClassNames
	r := viewRecord{Prediction: classProb{v.pred, names[v.pred], v.probs[v.pred]}, TargetProbability: v.probs[e.target]}
	for k, p := range v.probs {
		r.Probabilities = append(r.Probabilities, classProb{k, names[k], p})
	}
	r.Map = mapRecord{v.h, v.w, v.coarse}
	if v.lime == nil {
		r.MapUpsampled = &mapRecord{e.H, e.W, v.up}
	}
	r.Mask = maskRecord{H: e.H, W: e.W, Area: mask.Count(v.mask), Values: make([]int, len(v.mask))}
	for i, b := range v.mask {
		if b {
			r.Mask.Values[i] = 1
		}
	}
	sc := mask.Scatter(v.mask, e.H, e.W, mask.Eight)
	r.Scatter = scatterRecord{sc.Components, sc.Largest, sc.LargestShare}
	r.Entropy, r.NormalizedEntropy = num(mask.Entropy(v.up)), num(mask.NormalizedEntropy(v.up))
	if row, col, ok := mask.Centroid(v.up, e.H, e.W); ok {
		r.Centroid = []float64{row, col}
	}
	if gt != nil {
		r.Coverage, r.IoUGroundTruth = num(mask.Coverage(v.mask, gt)), num(mask.IoU(v.mask, gt))
		hit := mask.PointingGame(v.up, e.H, e.W, gt, 0)
		r.PointingGame = &hit
	}
	if v.lime != nil {
		lr := &limeRecord{Superpixels: v.lime.Segments.K, Segments: v.lime.Segments.Labels}
		if le, err := v.lime.Explanation(e.target); err == nil {
			lr.Intercept, lr.Score = le.Intercept, le.Score
			for i, f := range le.Features {
				lr.Weights = append(lr.Weights, segmentProb{f, le.Weights[i]})
			}
		}
		r.Lime = lr
	}
	return r
}

// writeExplainPictures writes the overlays and the panel and returns their
// file names.
func writeExplainPictures(dir string, e *explainer, clean, adv *explainView, gt []bool, scale int, names []string) ([]string, error) {
	H, W := e.H, e.W
	SH, SW := H*scale, W*scale
	up := func(m []bool) []bool { return mask.Upsample(m, H, W, SH, SW) }
	overlay := func(v *explainView) (*image.RGBA, error) {
		m := v.up
		if v.lime != nil {
			// show the superpixels that support the class; negative
			// weights would otherwise tint the whole image
			m = make([]float32, len(v.up))
			for i, x := range v.up {
				m[i] = max(x, 0)
			}
		}
		o, err := viz.Overlay(v.img, e.c, H, W, m, 0.6, viz.Jet)
		if err != nil {
			return nil, err
		}
		return viz.Outline(viz.Scale(o, scale), up(v.mask), viz.White), nil
	}
	plain := func(v *explainView) (*image.RGBA, error) {
		im, err := viz.ToImage(v.img, e.c, H, W)
		if err != nil {
			return nil, err
		}
		return viz.Scale(im, scale), nil
	}
	masked := func(v *explainView) (*image.RGBA, error) {
		im, err := plain(v)
		if err != nil {
			return nil, err
		}
		// dim the pixels outside the mask, then outline the mask (yellow)
		// and the ground truth (green)
		mu := up(v.mask)
		for i, in := range mu {
			if !in {
				p := im.Pix[4*i : 4*i+3]
				for k := range p {
					p[k] = uint8(int(p[k]) * 2 / 5)
				}
			}
		}
		if gt != nil {
			im = viz.Outline(im, up(gt), viz.Green)
		}
		return viz.Outline(im, mu, viz.Yellow), nil
	}
	caption := func(what string, v *explainView) string {
		return fmt.Sprintf("%s: %s (%.0f%%)", what, names[v.pred], 100*v.probs[v.pred])
	}
	var files []string
	var items []viz.Captioned
	views := []*explainView{clean}
	tags := []string{"clean"}
	if adv != nil {
		views = append(views, adv)
		tags = append(tags, "adv")
	}
	var imgs, maps, masks []viz.Captioned
	for i, v := range views {
		o, err := overlay(v)
		if err != nil {
			return nil, err
		}
		name := "overlay_" + tags[i] + ".png"
		if err := viz.WritePNG(filepath.Join(dir, name), o); err != nil {
			return nil, err
		}
		files = append(files, name)
		p, err := plain(v)
		if err != nil {
			return nil, err
		}
		mk, err := masked(v)
		if err != nil {
			return nil, err
		}
		what := "clean"
		if i == 1 {
			what = "adversarial"
		}
		imgs = append(imgs, viz.Captioned{Image: p, Caption: caption(what, v)})
		mapc := fmt.Sprintf("%s (class %s)", e.method, names[e.target])
		mc := fmt.Sprintf("%s mask: %d px", e.maskOpt.Method, mask.Count(v.mask))
		if i == 1 {
			mapc = "adversarial map"
			mc = fmt.Sprintf("adv. mask: %d px, IoU %.2f", mask.Count(v.mask), mask.IoU(clean.mask, v.mask))
		}
		maps = append(maps, viz.Captioned{Image: o, Caption: mapc})
		masks = append(masks, viz.Captioned{Image: mk, Caption: mc})
	}
	items = append(append(append(items, imgs...), maps...), masks...)
	name := "panel.png"
	if err := viz.WritePNG(filepath.Join(dir, name), viz.Panel(items...)); err != nil {
		return nil, err
	}
	return append(files, name), nil
}

package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/explain"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
	"github.com/arp-robustness/arp/viz"
)

// explainSetup writes an untrained mnist-small run (c channels) and a test
// digit as PNG into a temporary directory.
func explainSetup(t *testing.T, c int) (dir, run, digit string, pix []float32, label int) {
	t.Helper()
	dir = t.TempDir()
	spec, err := nn.DefaultSpec("mnist-small", c, 28, 28, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	run = filepath.Join(dir, "run")
	if err := nn.SaveRun(run, m, nn.Info{ClassNames: data.DigitClasses(), Seed: 3}); err != nil {
		t.Fatal(err)
	}
	d, err := data.MNISTMini("test")
	if err != nil {
		t.Fatal(err)
	}
	pix = d.Image(0)
	digit = filepath.Join(dir, "digit.png")
	writeGrayPNG(t, digit, pix, 28, 28)
	return dir, run, digit, pix, d.Labels[0]
}

func writeGrayPNG(t *testing.T, path string, pix []float32, h, w int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range pix {
		img.Pix[i] = uint8(math.Round(float64(v) * 255))
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// explanationJSON is the part of explanation.json the tests read.
type explanationJSON struct {
	ArpVersion string `json:"arp_version"`
	Image      struct {
		Channels int      `json:"channels"`
		Notes    []string `json:"notes"`
		Label    *int     `json:"label"`
	} `json:"image"`
	Settings struct {
		Method string `json:"method"`
		Layer  string `json:"layer"`
		Target struct {
			Class int    `json:"class"`
			Name  string `json:"name"`
		} `json:"target"`
		TargetSource string         `json:"target_source"`
		Mask         map[string]any `json:"mask"`
		Attack       map[string]any `json:"attack"`
		Lime         map[string]any `json:"lime"`
		Seed         uint64         `json:"seed"`
	} `json:"settings"`
	GroundTruth *struct {
		Area int   `json:"area"`
		Box  []int `json:"box"`
	} `json:"ground_truth"`
	Clean       viewJSON  `json:"clean"`
	Adversarial *viewJSON `json:"adversarial"`
	Comparison  *struct {
		IoU          float64  `json:"iou_clean_adv"`
		SpearmanRank *float64 `json:"spearman_rank"`
	} `json:"comparison"`
	Files []string `json:"files"`
}

type viewJSON struct {
	Prediction struct {
		Class       int     `json:"class"`
		Probability float64 `json:"probability"`
	} `json:"prediction"`
	Probabilities []struct {
		Probability float64 `json:"probability"`
	} `json:"probabilities"`
	Map          explain.MapRecord  `json:"map"`
	MapUpsampled *explain.MapRecord `json:"map_upsampled"`
	Mask         explain.MaskRecord `json:"mask"`
	Scatter      struct {
		Components int `json:"components"`
	} `json:"scatter"`
	Coverage       *float64 `json:"coverage"`
	IoUGroundTruth *float64 `json:"iou_ground_truth"`
	Lime           *struct {
		Superpixels int     `json:"superpixels"`
		Segments    []int32 `json:"segments"`
	} `json:"lime"`
	Linf *float64 `json:"linf"`
}

func readExplanation(t *testing.T, dir string) *explanationJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "explanation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e explanationJSON
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestExplainGradCAMWithAttack(t *testing.T) {
	dir, run, digit, pix, label := explainSetup(t, 1)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := arp(t, "explain", "--model", run, "--image", digit, "--label", strconv.Itoa(label),
		"--attack", "fgsm", "--eps", "0.1", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"clean:", "adversarial:", "IoU clean/adversarial mask", "panel.png"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"overlay_clean.png", "overlay_adv.png", "panel.png"} {
		img := decodePNG(t, filepath.Join(out, name))
		if name != "panel.png" && (img.Bounds().Dx() != 168 || img.Bounds().Dy() <= 168) {
			t.Errorf("%s is %v, want 168 wide (28x28 enlarged 6 times) with the colour scale under it", name, img.Bounds())
		}
		if name != "panel.png" {
			blue, red := false, false
			for x := 0; x < 168; x++ {
				c := color.RGBAModel.Convert(img.At(x, 168+2+4)).(color.RGBA) // the scale's middle row
				blue, red = blue || c == viz.Jet(0), red || c == viz.Jet(1)
			}
			if !blue || !red {
				t.Errorf("%s: no colour scale under the map", name)
			}
		}
		if name == "panel.png" && img.Bounds().Dx() < 6*168 {
			t.Errorf("panel is %v, want 6 columns of 168 pixels", img.Bounds())
		}
	}
	e := readExplanation(t, out)
	if e.ArpVersion == "" || e.Settings.Method != "gradcam-arp" || e.Settings.Layer != "pool2" {
		t.Errorf("settings %+v, version %q", e.Settings, e.ArpVersion)
	}
	if e.Settings.Target.Class != label || e.Settings.TargetSource != "label" || e.Image.Label == nil || *e.Image.Label != label {
		t.Errorf("target %+v from %q, want the label %d", e.Settings.Target, e.Settings.TargetSource, label)
	}
	if e.Settings.Attack["attack"] != "fgsm" || e.Settings.Attack["eps"] != 0.1 {
		t.Errorf("attack settings %v", e.Settings.Attack)
	}
	wantFiles := "overlay_clean.png,overlay_adv.png,panel.png,explanation.json"
	if strings.Join(e.Files, ",") != wantFiles {
		t.Errorf("files %v, want %s", e.Files, wantFiles)
	}
	gt, _, _ := data.ObjectMask(pix, 28, 28, data.DigitThreshold)
	if e.GroundTruth == nil || e.GroundTruth.Area != mask.Count(gt) {
		t.Fatalf("ground truth %+v, want area %d", e.GroundTruth, mask.Count(gt))
	}
	for _, v := range []*viewJSON{&e.Clean, e.Adversarial} {
		if v == nil {
			t.Fatal("no adversarial view")
		}
		if v.Map.H != 7 || v.Map.W != 7 || len(v.Map.Values) != 49 {
			t.Fatalf("map %dx%d with %d values", v.Map.H, v.Map.W, len(v.Map.Values))
		}
		sum := 0.0
		for _, x := range v.Map.Values {
			sum += float64(x)
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("ARP map sums to %g", sum)
		}
		if v.MapUpsampled == nil || len(v.MapUpsampled.Values) != 784 || len(v.Mask.Values) != 784 {
			t.Fatal("upsampled map or mask missing")
		}
		area := 0
		mb := make([]bool, 784)
		for i, x := range v.Mask.Values {
			area += x
			mb[i] = x == 1
		}
		if area != v.Mask.Area {
			t.Errorf("mask area %d, values sum to %d", v.Mask.Area, area)
		}
		if v.Coverage == nil || math.Abs(*v.Coverage-mask.Coverage(mb, gt)) > 1e-12 || v.IoUGroundTruth == nil {
			t.Errorf("coverage %v, want %g", v.Coverage, mask.Coverage(mb, gt))
		}
		if len(v.Probabilities) != 10 {
			t.Errorf("%d probabilities", len(v.Probabilities))
		}
	}
	if e.Adversarial.Linf == nil || *e.Adversarial.Linf > 0.1+1e-6 || *e.Adversarial.Linf == 0 {
		t.Errorf("perturbation L-inf %v, want in (0, 0.1]", e.Adversarial.Linf)
	}
	if e.Comparison == nil || e.Comparison.IoU < 0 || e.Comparison.IoU > 1 {
		t.Errorf("comparison %+v", e.Comparison)
	}
}

func TestExplainMethodsAndMasks(t *testing.T) {
	dir, run, digit, pix, _ := explainSetup(t, 1)
	gt, _, _ := data.ObjectMask(pix, 28, 28, data.DigitThreshold)
	cases := []struct {
		args     []string
		method   string
		layer    string
		maskArea int // -1: any
		mapH     int
	}{
		{[]string{"--method", "gradcam", "--mask", "topk"}, "gradcam", "pool2", 7 * 16, 7},
		{[]string{"--method", "gradcam++", "--mask", "area"}, "gradcam++", "pool2", mask.Count(gt), 7},
		{[]string{"--method", "gradcam-arp", "--mask", "topk", "--k", "3", "--layer", "relu2"}, "gradcam-arp", "relu2", 3 * 4, 14},
		{[]string{"--method", "gradcam-arp", "--mask", "fraction", "--fraction", "0.9", "--target", "3"}, "gradcam-arp", "pool2", -1, 7},
		{[]string{"--box", "4,4,20,24", "--mask", "area"}, "gradcam-arp", "pool2", 16 * 20, 7},
		{[]string{"--method", "standard"}, "gradcam", "pool2", -1, 7}, // an alias of gradcam
	}
	for i, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out := filepath.Join(dir, "out"+strconv.Itoa(i))
			args := append([]string{"explain", "--model", run, "--image", digit, "--out", out}, c.args...)
			if code, _, stderr := arp(t, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			e := readExplanation(t, out)
			if e.Settings.Method != c.method || e.Settings.Layer != c.layer || e.Clean.Map.H != c.mapH {
				t.Errorf("method %s at %s (%dx%d map)", e.Settings.Method, e.Settings.Layer, e.Clean.Map.H, e.Clean.Map.W)
			}
			if c.maskArea >= 0 && e.Clean.Mask.Area != c.maskArea {
				t.Errorf("mask area %d, want %d", e.Clean.Mask.Area, c.maskArea)
			}
			if e.Adversarial != nil || e.Comparison != nil {
				t.Error("adversarial view without --attack")
			}
			if _, err := os.Stat(filepath.Join(out, "overlay_adv.png")); err == nil {
				t.Error("overlay_adv.png without --attack")
			}
		})
	}
}

// TestExplainLIME runs the LIME path with few samples and checks that one
// seed gives one explanation.
func TestExplainLIME(t *testing.T) {
	dir, run, digit, _, label := explainSetup(t, 1)
	var maps [2][]float32
	for i := range maps {
		out := filepath.Join(dir, "lime"+strconv.Itoa(i))
		code, _, stderr := arp(t, "explain", "--model", run, "--image", digit, "--method", "lime", "--samples", "40",
			"--seed", "5", "--label", strconv.Itoa(label), "--attack", "step-ll", "--out", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		e := readExplanation(t, out)
		if e.Settings.Method != "lime" || e.Settings.Layer != "" || e.Settings.Lime["samples"] != 40.0 || e.Settings.Lime["segmenter"] != "slic" {
			t.Fatalf("settings %+v", e.Settings)
		}
		if e.Clean.Lime == nil || e.Clean.Lime.Superpixels < 2 || len(e.Clean.Lime.Segments) != 784 {
			t.Fatalf("lime record %+v", e.Clean.Lime)
		}
		if e.Clean.Map.H != 28 || len(e.Clean.Map.Values) != 784 || e.Clean.MapUpsampled != nil {
			t.Fatalf("LIME map %dx%d", e.Clean.Map.H, e.Clean.Map.W)
		}
		if e.Settings.Mask["method"] != "topk" || e.Settings.Mask["k"] != 10.0 {
			t.Fatalf("LIME mask settings %v", e.Settings.Mask)
		}
		if e.Adversarial == nil || e.Adversarial.Lime == nil {
			t.Fatal("no adversarial LIME explanation")
		}
		maps[i] = e.Clean.Map.Values
	}
	for j := range maps[0] {
		if maps[0][j] != maps[1][j] {
			t.Fatalf("two runs with seed 5 differ at pixel %d: %g vs %g", j, maps[0][j], maps[1][j])
		}
	}
}

func TestExplainImageConversion(t *testing.T) {
	dir, run3, digit, pix, _ := explainSetup(t, 3)
	// a gray image is repeated into the 3 channels of an RGB model
	out := filepath.Join(dir, "rgb")
	if code, _, stderr := arp(t, "explain", "--model", run3, "--image", digit, "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	e := readExplanation(t, out)
	if e.Image.Channels != 1 || len(e.Image.Notes) == 0 || !strings.Contains(e.Image.Notes[0], "repeated into 3 channels") {
		t.Errorf("image record %+v", e.Image)
	}
	if e.GroundTruth != nil {
		t.Errorf("ground truth %+v for an RGB model without --box", e.GroundTruth)
	}

	// a JPEG of a larger size, resized
	_, run1, _, _, _ := explainSetup(t, 1)
	big := image.NewGray(image.Rect(0, 0, 40, 36))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, big, nil); err != nil {
		t.Fatal(err)
	}
	jpg := filepath.Join(dir, "big.jpg")
	if err := os.WriteFile(jpg, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := arp(t, "explain", "--model", run1, "--image", jpg, "--out", filepath.Join(dir, "big"))
	if code != 1 || !strings.Contains(stderr, "is 36x40 (height x width) but the model takes 28x28 images; pass --resize") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := arp(t, "explain", "--model", run1, "--image", jpg, "--resize", "--out", filepath.Join(dir, "big")); code != 0 {
		t.Fatalf("--resize: exit %d: %s", code, stderr)
	}
	e = readExplanation(t, filepath.Join(dir, "big"))
	if len(e.Image.Notes) == 0 || !strings.Contains(e.Image.Notes[0], "resized from 36x40 to 28x28") {
		t.Errorf("notes %v", e.Image.Notes)
	}
	_ = pix
}

func TestExplainErrors(t *testing.T) {
	dir, run, digit, _, _ := explainSetup(t, 1)
	colour := image.NewRGBA(image.Rect(0, 0, 28, 28))
	for i := range colour.Pix {
		colour.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, colour); err != nil {
		t.Fatal(err)
	}
	colourPNG := filepath.Join(dir, "colour.png")
	notImage := filepath.Join(dir, "notes.txt")
	for path, content := range map[string][]byte{colourPNG: b.Bytes(), notImage: []byte("hello")} {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	base := []string{"explain", "--model", run, "--image", digit, "--out", out}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", "--image", digit, "--out", out}, "arp: --model is required"},
		{[]string{"explain", "--model", run, "--out", out}, "arp: --image is required"},
		{[]string{"explain", "--model", run, "--image", digit}, "arp: --out DIR is required"},
		{[]string{"explain", "--model", filepath.Join(dir, "none"), "--image", digit, "--out", out}, "no such file or directory"},
		{[]string{"explain", "--model", digit, "--image", digit, "--out", out}, "not a run directory"},
		{append(base, "--method", "cam"), `arp: unknown method "cam"; known: gradcam-arp, gradcam, gradcam++, lime`},
		{append(base, "--layer", "conv9"), `arp: --layer conv9: no such layer; layers with maps: input, conv1, relu1, pool1, conv2, relu2, pool2`},
		{append(base, "--layer", "fc1"), `arp: --layer fc1: no spatial map (its output is not [N,C,H,W])`},
		{append(base, "--mask", "otsu"), `arp: --mask: unknown mask method "otsu"`},
		{append(base, "--mask", "topk", "--k", "-2"), "--k -2: want 0 to 1000000"},
		{append(base, "--mask", "area", "--object-threshold", "-1"), "--mask area needs a ground-truth region"},
		{append(base, "--target", "10"), "--target 10: class index outside [0,10)"},
		{append(base, "--label", "seven"), `--label "seven": not a class index`},
		{append(base, "--attack", "nuke"), `unknown attack "nuke"`},
		{append(base, "--attack", "fgsm", "--eps", "-1"), "eps"},
		{append(base, "--method", "lime", "--layer", "pool2"), "--layer applies to the Grad-CAM methods"},
		{append(base, "--method", "lime", "--samples", "1"), "--samples 1"},
		{append(base, "--method", "lime", "--segmenter", "watershed"), `--segmenter "watershed"`},
		{append(base, "--box", "1,2"), "want X0,Y0,X1,Y1"},
		{append(base, "--box", "30,30,40,40"), "outside the 28x28 image"},
		{append(base, "--scale", "-1"), "--scale -1"},
		{[]string{"explain", "--model", run, "--image", colourPNG, "--out", out}, "is a colour (RGB) image but the model takes 1-channel"},
		{[]string{"explain", "--model", run, "--image", notImage, "--out", out}, "not a PNG or JPEG file"},
		{[]string{"explain", "--model", run, "--image", filepath.Join(dir, "missing.png"), "--out", out}, "missing.png: no such file"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			code, _, stderr := arp(t, tc.args...)
			if code != 1 || !strings.HasPrefix(stderr, "arp: ") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want one line containing %q", code, stderr, tc.want)
			}
		})
	}
}

// TestExplainAttackWithoutGradient: an attack that cannot run says why
// (the attack's own message), not "no adversarial image".
func TestExplainAttackWithoutGradient(t *testing.T) {
	dir, _, digit, _, label := explainSetup(t, 1)
	spec, err := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() { // a constant model: no gradient anywhere
		p.Var.Value().CopyFrom(tensor.Zeros(p.Var.DType(), p.Var.Shape()...))
	}
	run := filepath.Join(dir, "constant")
	if err := nn.SaveRun(run, m, nn.Info{ClassNames: data.DigitClasses(), Seed: 3}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := arp(t, "explain", "--model", run, "--image", digit, "--label", strconv.Itoa(label),
		"--attack", "fgsm", "--eps", "0.1", "--out", filepath.Join(dir, "out"))
	if code != 1 || !strings.Contains(stderr, "arp: --attack fgsm: fgsm: the model has no usable gradient") ||
		!strings.Contains(stderr, "do not change with its input") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestExplainMinMaxScaling: --cam-scale min-max scales gradcam maps as
// pytorch-grad-cam does and says so in explanation.json.
func TestExplainMinMaxScaling(t *testing.T) {
	dir, run, digit, _, label := explainSetup(t, 1)
	out := filepath.Join(dir, "out")
	code, _, stderr := arp(t, "explain", "--model", run, "--image", digit, "--label", strconv.Itoa(label),
		"--method", "gradcam", "--cam-scale", "min-max", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "explanation.json"))
	if err != nil || !strings.Contains(string(b), `"method": "gradcam (min-max scaled)"`) {
		t.Fatalf("explanation.json (%v):\n%.400s", err, b)
	}
	for _, args := range [][]string{{"--method", "gradcam-arp", "--cam-scale", "min-max"}, {"--method", "lime", "--cam-scale", "min-max"}, {"--method", "gradcam", "--cam-scale", "sum"}} {
		code, _, stderr := arp(t, append([]string{"explain", "--model", run, "--image", digit, "--out", out}, args...)...)
		if code != 1 || !strings.Contains(stderr, "--cam-scale") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

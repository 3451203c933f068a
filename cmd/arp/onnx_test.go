package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/nn"
)

func TestExportAndONNXInfo(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	spec, err := nn.DefaultSpec("resnet20", 3, 8, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveRun(run, m, nn.Info{ClassNames: []string{"a", "b", "c", "d"}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.onnx")
	code, stdout, stderr := arp(t, "export", "--model", run, "--out", out, "--opset", "17")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"opset 17", "m.onnx.json", `input "pixels": pixels in [0,1], [N,3,8,8]; output: logits [N,4]; attention layer layer3`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("export output %q lacks %q", stdout, want)
		}
	}
	code, stdout, stderr = arp(t, "onnx", "info", out, "--layers")
	if code != 0 {
		t.Fatalf("info: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"producer:   arp", "opset 17", "import:     ok", "BatchNormalization folded into the Conv before it", "4 classes: a, b, c, d", "attention:  layer3", "layer2.1.bn1", "[1 64 2 2]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = arp(t, "onnx", "ops")
	if code != 0 || !strings.Contains(stdout, "\nBatchNormalization\n") {
		t.Errorf("ops: %d %q", code, stdout)
	}

	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, []byte("nonsense"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--model", run, "--out", out}, "exists; use --force"},
		{[]string{"export", "--model", out, "--out", filepath.Join(dir, "again.onnx")}, "is already an ONNX model"},
		{[]string{"export", "--model", run}, "--out FILE.onnx is required"},
		{[]string{"export", "--model", run, "--out", filepath.Join(dir, "x.onnx"), "--opset", "9"}, "--opset 9: want 11 to 17"},
		{[]string{"export", "--out", filepath.Join(dir, "x.onnx")}, `required flag(s) "model" not set`},
		{[]string{"onnx", "info", bad}, "not a valid ONNX file"},
		{[]string{"onnx", "info", filepath.Join(dir, "none.onnx")}, "no such file"},
	} {
		code, out, errs := arp(t, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 || strings.Contains(out+errs, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args, code, errs, tc.want)
		}
	}
	if code, _, errs := arp(t, "export", "--model", run, "--out", out, "--force"); code != 0 {
		t.Errorf("--force: %s", errs)
	}
}

// --model FILE.onnx works wherever --model RUN does, with the same results
// for an exported run.
func TestModelFlagONNX(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	spec, err := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveRun(run, m, nn.Info{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "m.onnx")
	if code, _, errs := arp(t, "export", "--model", run, "--out", file); code != 0 {
		t.Fatal(errs)
	}
	results := map[string]string{}
	for _, model := range []string{run, file} {
		code, out, errs := arp(t, "eval", "--model", model, "--data", "mnist-mini", "--limit", "20", "--attacks", "fgsm",
			"--eps", "0.05", "--quiet", "--check-images", "0")
		if code != 0 {
			t.Fatalf("eval --model %s: %s", model, errs)
		}
		i := strings.Index(out, "clean accuracy")
		j := strings.Index(out, "worst case")
		if i < 0 || j < 0 {
			t.Fatalf("eval output: %s", out)
		}
		// the table without its last column (seconds, which vary)
		results[model] = regexp.MustCompile(`(?m)\s+[0-9.]+\s*$`).ReplaceAllString(out[i:j], "")
	}
	if results[run] != results[file] {
		t.Errorf("run and ONNX results differ:\n%s\n%s", results[run], results[file])
	}
	// explain on an ONNX file from PyTorch, with its metadata file.
	img := image.NewRGBA(image.Rect(0, 0, 12, 12))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 37)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	imgPath := filepath.Join(dir, "img.png")
	if err := os.WriteFile(imgPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := arp(t, "explain", "--model", "../../onnx/testdata/resnet.onnx", "--image", imgPath, "--out", filepath.Join(dir, "ex"))
	if code != 0 || !strings.Contains(out, "at layer2") {
		t.Errorf("explain: exit %d: %s %s", code, out, errs)
	}
}

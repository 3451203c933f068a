package main

import (
	"os"
	"path/filepath"
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
	for _, want := range []string{"producer:   arp", "opset 17", "import:     ok", "4 classes: a, b, c, d", "attention:  layer3", "layer2.1.bn1", "[1 64 2 2]"} {
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
		{[]string{"export", "--model", run, "--out", filepath.Join(dir, "x.onnx"), "--opset", "9"}, "export opset 9"},
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

package modelio

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

// saveRun writes a small run directory.
func saveRun(t *testing.T, dir string) *nn.Model {
	t.Helper()
	spec, err := nn.DefaultSpec("mnist-small", 1, 8, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveRun(dir, m, nn.Info{ClassNames: []string{"a", "b", "c"}, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	orig := saveRun(t, run)
	file := filepath.Join(dir, "m.onnx")
	if err := onnx.ExportFile(file, orig, onnx.ExportOptions{ClassNames: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	x := autograd.Const(tensor.Full(tensor.Float32, 0.5, 2, 1, 8, 8))
	want, _ := orig.Forward(x, nn.Eval)
	for _, tc := range []struct{ path, kind string }{
		{run, KindRun},
		{filepath.Join(run, rundir.Info), KindRun},
		{filepath.Join(run, rundir.Weights), KindRun},
		{file, KindONNX},
	} {
		c, meta, err := Open(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if meta.Kind != tc.kind || !slices.Equal(meta.InputShape, []int{1, 8, 8}) || meta.NumClasses != 3 ||
			meta.ClassName(2) != "c" || meta.ClassName(7) != "7" || meta.AttentionLayer != "pool2" {
			t.Errorf("%s: meta %+v", tc.path, meta)
		}
		if (meta.Info != nil) != (tc.kind == KindRun) || (meta.ONNX != nil) != (tc.kind == KindONNX) {
			t.Errorf("%s: Info %v, ONNX %v", tc.path, meta.Info, meta.ONNX)
		}
		if err := nn.CheckLayer(c, meta.AttentionLayer); err != nil {
			t.Errorf("%s: %v", tc.path, err)
		}
		y, _ := c.Forward(x, nn.Eval)
		if d := tensor.MaxAbsDiff(y.Value(), want.Value()); d != 0 {
			t.Errorf("%s: logits differ by %g", tc.path, d)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, []byte("not onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"", "no model given"},
		{filepath.Join(dir, "missing"), "no such file or directory"},
		{dir, "not an arp run directory"},
		{other, "not a run directory or .onnx file"},
		{bad, "not a valid ONNX file"},
	} {
		_, _, err := Open(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): %v, want %q", tc.path, err, tc.want)
		}
	}
}

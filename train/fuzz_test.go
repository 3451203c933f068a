package train

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

// FuzzReadCheckpoint feeds arbitrary bytes to ReadCheckpoint: it must
// return an error or a checkpoint, never panic.
func FuzzReadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.safetensors")
	ck := &Checkpoint{Step: 3, Record: Record{Arch: "mnist-small", Objective: "arp"},
		Model: map[string]*tensor.Tensor{"conv1.weight": tensor.Full(tensor.Float32, 0.5, 2, 1, 3, 3)},
		Optim: map[string]*tensor.Tensor{"steps": tensor.Scalar(tensor.Float64, 3), "exp_avg.0": tensor.Zeros(tensor.Float32, 2, 1, 3, 3)}}
	if err := writeCheckpoint(path, ck); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":1}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := checkpoint.Decode(b, "fuzz.safetensors")
		if err != nil {
			return
		}
		c, err := fromFile(cf, "fuzz.safetensors")
		if err == nil && (c.Step < 0 || len(c.Model) == 0) {
			t.Fatalf("accepted an invalid checkpoint: %+v", c)
		}
	})
}

// FuzzReadMetrics checks that any metrics file (a crash can leave a torn
// last line) reads without panicking and keeps only lines up to the step.
func FuzzReadMetrics(f *testing.F) {
	f.Add([]byte("{\"step\":1,\"loss\":2}\n{\"step\":2,\"loss\":1}\n{\"step\":3,\"lo"), 2)
	f.Add([]byte("not json\n{\"step\":\"x\"}\n"), 5)
	f.Add([]byte(""), 0)
	f.Fuzz(func(t *testing.T, b []byte, upTo int) {
		p := filepath.Join(t.TempDir(), rundir.Metrics)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		lines, err := readMetrics(p, upTo)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if s, ok := l["step"].(float64); !ok || int(s) > upTo {
				t.Fatalf("kept line %v for step <= %d", l, upTo)
			}
		}
	})
}

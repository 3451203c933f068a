// Package attacktest provides what the tests of arp's attack, eval and
// command packages share: a small MNIST classifier trained on the embedded
// mnist-mini data in a few seconds, cached for the test process.
package attacktest

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// Recipe of the trained model: mnist-small, Adam, one pass over the 2,000
// training images of mnist-mini.
const (
	Arch      = "mnist-small"
	Seed      = 7
	Epochs    = 1
	BatchSize = 50
	LR        = 2e-3
)

var (
	once    sync.Once
	trained *nn.Model
	test    *data.Dataset
	errOnce error
)

// Train trains the recipe's model from scratch (deterministic).
func Train() (*nn.Model, error) {
	train, err := data.Open("mnist-mini:train", data.Options{})
	if err != nil {
		return nil, err
	}
	spec, err := nn.DefaultSpec(Arch, 1, train.H, train.W, 10)
	if err != nil {
		return nil, err
	}
	m, err := nn.Build(spec, Seed)
	if err != nil {
		return nil, err
	}
	params, _ := m.Trainable()
	opt := optim.NewAdam(params, LR)
	rng := rand.New(rand.NewPCG(Seed, 1))
	for ep := 0; ep < Epochs; ep++ {
		it, err := train.Batches(data.BatchOptions{Size: BatchSize, Shuffle: true, Seed: uint64(ep)})
		if err != nil {
			return nil, err
		}
		for {
			b, ok := it.Next()
			if !ok {
				break
			}
			err := autograd.Try(func() {
				x := autograd.Const(tensor.FromFloat32(b.Images, b.N, b.C, b.H, b.W))
				logits, _ := m.Forward(x, nn.Mode{Train: true, Rng: rng})
				g, e := autograd.Grad([]*autograd.Var{autograd.CrossEntropy(logits, b.Labels, 0)}, nil, params, false)
				if e == nil {
					e = opt.Step(g)
				}
				if e != nil {
					panic(e)
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// MNIST returns the trained model (trained once per test process) and the
// 1,000 test images of mnist-mini.
func MNIST(tb testing.TB) (*nn.Model, *data.Dataset) {
	tb.Helper()
	once.Do(func() {
		trained, errOnce = Train()
		if errOnce == nil {
			test, errOnce = data.Open("mnist-mini:test", data.Options{})
		}
	})
	if errOnce != nil {
		tb.Fatalf("attacktest: %v", errOnce)
	}
	return trained, test
}

// RunDir saves the trained model as a run directory (model.json and
// model.safetensors) in a temporary directory and returns its path.
func RunDir(tb testing.TB) string {
	tb.Helper()
	m, _ := MNIST(tb)
	dir := filepath.Join(tb.TempDir(), "run")
	info := nn.Info{ClassNames: data.DigitClasses(), Dataset: "mnist-mini", Seed: Seed,
		Training: []byte(fmt.Sprintf(`{"recipe":"attacktest","epochs":%d,"lr":%g}`, Epochs, LR))}
	if err := nn.SaveRun(dir, m, info); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Batch returns the first n test images as an [n,1,28,28] tensor and their
// labels.
func Batch(tb testing.TB, n int) (*tensor.Tensor, []int) {
	tb.Helper()
	_, ds := MNIST(tb)
	if n > ds.Len() {
		tb.Fatalf("attacktest: %d images requested, %d available", n, ds.Len())
	}
	per := ds.ImageSize()
	x := tensor.FromFloat32(append([]float32(nil), ds.Images[:n*per]...), n, ds.C, ds.H, ds.W)
	return x, append([]int(nil), ds.Labels[:n]...)
}

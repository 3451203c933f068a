package attack

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// BenchmarkPGD10CifarNet times PGD-10 evaluation on CifarNet (with LRN, as
// nn.DefaultSpec builds it) for a batch of 50 CIFAR-sized images: random
// start, 10 steps of 2.5*eps/10 with eps 8/255, and the forward pass that
// judges the final iterate; early stopping is off, so every image takes
// every step (the work of evaluating a robust model). The same loop is the
// pgd10 case of `arp bench` and of scripts/bench/torch_bench.py, which
// scripts/bench/compare.py runs side by side:
//
//	go test ./attack -run '^$' -bench PGD10 -benchtime 20x
//	/usr/bin/python3 scripts/bench/compare.py --cases pgd10
func BenchmarkPGD10CifarNet(b *testing.B) {
	spec, err := nn.DefaultSpec("cifarnet", 3, 32, 32, 10)
	if err != nil {
		b.Fatal(err)
	}
	m, err := nn.Build(spec, 1)
	if err != nil {
		b.Fatal(err)
	}
	const n = 50
	rng := rand.New(rand.NewPCG(1, 2))
	x := tensor.Zeros(tensor.Float32, n, 3, 32, 32)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = i % 10
	}
	a := &PGD{Base: Base{Eps: 8.0 / 255, Seed: 1}, Steps: 10, FinalIterate: true}
	ctx := context.Background()
	if _, err := a.Perturb(ctx, m, x, y); err != nil { // warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Perturb(ctx, m, x, y); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}

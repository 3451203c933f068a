package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/optim"
)

func benchCifar(b *testing.B, lrn bool) (*Model, *autograd.Var, []int) {
	spec, _ := DefaultSpec("cifarnet", 3, 32, 32, 10)
	spec.LRN = lrn
	m, _ := Build(spec, 1)
	x := randImages(rand.New(rand.NewPCG(1, 2)), 50, 3, 32, 32)
	y := make([]int, 50)
	for i := range y {
		y[i] = i % 10
	}
	return m, x, y
}

func BenchmarkCifarNetForward(b *testing.B) {
	m, x, _ := benchCifar(b, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		autograd.NoGrad(func() { m.Forward(x, Eval) })
	}
	b.ReportMetric(float64(50*b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkCifarNetTrainStep(b *testing.B) {
	m, x, y := benchCifar(b, false)
	params, _ := m.Trainable()
	opt := optim.NewAdam(params, 1e-4)
	rng := rand.New(rand.NewPCG(1, 1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		logits, _ := m.Forward(x, Mode{Train: true, Rng: rng})
		loss := autograd.CrossEntropy(logits, y, 0)
		g := autograd.MustGrad(loss, params, false)
		opt.Step(g)
	}
	b.ReportMetric(float64(50*b.N)/b.Elapsed().Seconds(), "images/s")
}

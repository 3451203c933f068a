package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// BenchmarkTrainStep times one training step (batch 50) per objective and
// architecture: go test -bench TrainStep -run '^$' ./train
func BenchmarkTrainStep(b *testing.B) {
	for _, arch := range []struct {
		name    string
		c, h, w int
	}{{"mnist-small", 1, 28, 28}, {"cifarnet", 3, 32, 32}} {
		for _, def := range []string{"none", "adv", "arp", "arp-first-order"} {
			b.Run(fmt.Sprintf("%s/%s", arch.name, def), func(b *testing.B) {
				spec, _ := nn.DefaultSpec(arch.name, arch.c, arch.h, arch.w, 10)
				m, _ := nn.Build(spec, 1)
				name, opt := def, defense.Options{}
				if def == "arp-first-order" {
					name, opt.FirstOrder = "arp", true
				}
				obj, err := defense.New(name, opt)
				if err != nil {
					b.Fatal(err)
				}
				params, _ := m.Trainable()
				adam := optim.NewAdam(params, 1e-4)
				x := randImages(50, arch.c, arch.h, arch.w, 1)
				y := make([]int, 50)
				for i := range y {
					y[i] = i % 10
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := Step(obj, m, adam, x, y, 1, i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func randImages(n, c, h, w int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 3))
	v := make([]float32, n*c*h*w)
	for i := range v {
		v[i] = float32(r.Float64())
	}
	return tensor.FromFloat32(v, n, c, h, w)
}

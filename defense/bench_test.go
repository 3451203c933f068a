package defense

import (
	"fmt"
	"testing"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
)

// BenchmarkTrainStep times one training step (batch 50) per objective and
// architecture: go test -bench TrainStep -run '^$' ./defense
func BenchmarkTrainStep(b *testing.B) {
	for _, arch := range []struct {
		name    string
		c, h, w int
	}{{"mnist-small", 1, 28, 28}, {"cifarnet", 3, 32, 32}} {
		for _, def := range []string{"none", "adv", "arp", "arp-first-order"} {
			b.Run(fmt.Sprintf("%s/%s", arch.name, def), func(b *testing.B) {
				spec, _ := nn.DefaultSpec(arch.name, arch.c, arch.h, arch.w, 10)
				m, _ := nn.Build(spec, 1)
				name, opt := def, Options{}
				if def == "arp-first-order" {
					name, opt.FirstOrder = "arp", true
				}
				obj, err := New(name, opt)
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
					if _, err := TrainStep(obj, m, adam, x, y, 1, i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

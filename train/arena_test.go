package train

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// TestStepsInArenasBitIdentical: training steps run in arenas (runStep)
// give bit for bit the parameters, optimiser state and losses of steps
// with arenas off, for every objective, Adam and SGD (whose momentum is
// created inside the first step), CifarNet (dropout, the ARP step's reused
// clean features) and ResNet-20 (batch norm's running statistics), with
// the pool reused from step to step and in check mode (released storage
// and uninitialised results are NaN, so any read of memory the rule gave
// back, or of a result not fully written, changes the bits).
func TestStepsInArenasBitIdentical(t *testing.T) {
	type cfg struct {
		arch, defense, opt string
		attack             attack.Spec
	}
	pgd := attack.Spec{Name: "pgd", Config: attack.Config{Eps: 0.1, Steps: 3, Alpha: 0.04}}
	cfgs := []cfg{
		{"cifarnet", "none", "sgd", attack.Spec{}},
		{"cifarnet", "arp", "adam", attack.Spec{}},
		{"cifarnet", "two-step", "sgd", attack.Spec{}},
		{"cifarnet", "adv", "adam", pgd},
		{"cifarnet", "trades", "adam", attack.Spec{Name: "pgd", Config: attack.Config{Eps: 0.1, Steps: 2, Alpha: 0.05}}},
		{"resnet20", "arp", "sgd", attack.Spec{}},
		{"resnet20", "adv", "adam", pgd},
	}
	for _, c := range cfgs {
		t.Run(fmt.Sprintf("%s-%s-%s", c.arch, c.defense, c.opt), func(t *testing.T) {
			spec, err := nn.DefaultSpec(c.arch, 3, 12, 12, 10)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			x := tensor.Zeros(tensor.Float32, 4, 3, 12, 12)
			for i := range x.F32() {
				x.F32()[i] = float32(rng.Float64())
			}
			y := []int{1, 7, 0, 3}
			run := func(arenas, check bool) (losses []float64, state [][]float32) {
				oldA, oldC := tensor.SetArenas(arenas), tensor.SetArenaCheck(check)
				defer func() { tensor.SetArenas(oldA); tensor.SetArenaCheck(oldC) }()
				obj, err := defense.New(c.defense, defense.Options{Attack: c.attack})
				if err != nil {
					t.Fatal(err)
				}
				m, err := nn.Build(spec, 3)
				if err != nil {
					t.Fatal(err)
				}
				params, _ := m.Trainable()
				var opt optim.Optimizer = optim.NewAdam(params, 1e-3)
				if c.opt == "sgd" {
					opt = optim.NewSGD(params, 0.05, 0.9)
				}
				for s := 0; s < 3; s++ {
					res, err := Step(obj, m, opt, x, y, 9, s)
					if err != nil {
						t.Fatal(err)
					}
					losses = append(losses, res.Loss)
				}
				for _, st := range []map[string]*tensor.Tensor{m.State(), opt.State()} {
					for _, k := range slices.Sorted(maps.Keys(st)) {
						state = append(state, st[k].Float32s())
					}
				}
				return losses, state
			}
			wantL, wantS := run(false, false)
			for _, check := range []bool{false, true} {
				gotL, gotS := run(true, check)
				if !slices.Equal(gotL, wantL) {
					t.Fatalf("check mode %v: losses %v in arenas, %v without", check, gotL, wantL)
				}
				if len(gotS) != len(wantS) {
					t.Fatalf("check mode %v: %d state tensors, want %d", check, len(gotS), len(wantS))
				}
				for i := range wantS {
					if !slices.Equal(gotS[i], wantS[i]) {
						t.Fatalf("check mode %v: state tensor %d differs in arenas", check, i)
					}
				}
			}
		})
	}
}

package attack

import (
	"context"
	"slices"
	"testing"

	"github.com/arp-robustness/arp/tensor"
)

// TestAttacksInArenasBitIdentical: every attack gives bit for bit the same
// adversarial images with arenas (each gradient's working memory recycled
// into the next) as without, also in check mode (released storage and
// uninitialised results are NaN).
func TestAttacksInArenasBitIdentical(t *testing.T) {
	m, x, y := tinyModel(t)
	for _, name := range Names() {
		run := func(arenas, check bool) []float32 {
			oldA, oldC := tensor.SetArenas(arenas), tensor.SetArenaCheck(check)
			defer func() { tensor.SetArenas(oldA); tensor.SetArenaCheck(oldC) }()
			adv, err := newAttack(t, name, cheap(name, 0.1, 4)).Perturb(context.Background(), m, x, y)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return adv.Float32s()
		}
		want := run(false, false)
		for _, check := range []bool{false, true} {
			if got := run(true, check); !slices.Equal(got, want) {
				t.Errorf("%s, check mode %v: adversarial images differ in arenas", name, check)
			}
		}
	}
}

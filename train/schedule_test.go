package train

import (
	"math"
	"testing"
)

func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		s           Schedule
		step, total int
		want        float64
	}{
		{Schedule{}, 7, 10, 1},
		{Schedule{Kind: "constant", Warmup: 4}, 0, 10, 0.25},
		{Schedule{Kind: "constant", Warmup: 4}, 3, 10, 1},
		{Schedule{Kind: "step", StepEvery: 3, Gamma: 0.5}, 2, 10, 1},
		{Schedule{Kind: "step", StepEvery: 3, Gamma: 0.5}, 7, 10, 0.25},
		{Schedule{Kind: "cosine"}, 0, 11, 1},
		{Schedule{Kind: "cosine"}, 5, 11, 0.5},
		{Schedule{Kind: "cosine", MinLR: 0.1}, 10, 11, 0.1},
		{Schedule{Kind: "cosine", Warmup: 2}, 2, 12, 1},
	} {
		if got := tc.s.LR(1, tc.step, tc.total); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v step %d of %d: %g, want %g", tc.s, tc.step, tc.total, got, tc.want)
		}
	}
	for _, bad := range []Schedule{{Kind: "exp"}, {Kind: "step"}, {Kind: "step", StepEvery: 2}, {Warmup: -1}, {MinLR: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

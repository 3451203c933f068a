package train

import (
	"fmt"
	"math"
	"strings"
)

// Schedule is a learning-rate schedule: an optional linear warm-up followed
// by a constant rate, step decay or cosine decay. The rate is a pure
// function of the step, so a resumed run follows the same schedule.
type Schedule struct {
	// Kind is "constant" (default), "step" or "cosine".
	Kind string `json:"kind"`
	// Warmup is the number of steps over which the rate rises linearly from
	// base/Warmup to base.
	Warmup int `json:"warmup,omitempty"`
	// StepEvery and Gamma: "step" multiplies the rate by Gamma every
	// StepEvery steps (counted after the warm-up).
	StepEvery int     `json:"step_every,omitempty"`
	Gamma     float64 `json:"gamma,omitempty"`
	// MinLR is where "cosine" ends.
	MinLR float64 `json:"min_lr,omitempty"`
}

// ScheduleKinds lists the schedule kinds.
func ScheduleKinds() []string { return []string{"constant", "step", "cosine"} }

// Validate checks the schedule's parameters.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "", "constant", "cosine":
	case "step":
		if s.StepEvery < 1 {
			return fmt.Errorf("step schedule needs a positive step interval, got %d", s.StepEvery)
		}
		if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
			return fmt.Errorf("step schedule needs a positive decay factor, got %g", s.Gamma)
		}
	default:
		return fmt.Errorf("unknown learning-rate schedule %q; known: %s", s.Kind, strings.Join(ScheduleKinds(), ", "))
	}
	if s.Warmup < 0 {
		return fmt.Errorf("warm-up %d steps: must be >= 0", s.Warmup)
	}
	if s.MinLR < 0 || math.IsNaN(s.MinLR) {
		return fmt.Errorf("minimum learning rate %g: must be >= 0", s.MinLR)
	}
	return nil
}

// LR returns the learning rate of step (0-based) out of total steps for
// base rate base.
func (s Schedule) LR(base float64, step, total int) float64 {
	if step < s.Warmup {
		return base * float64(step+1) / float64(s.Warmup)
	}
	t := step - s.Warmup
	switch s.Kind {
	case "step":
		return base * math.Pow(s.Gamma, float64(t/s.StepEvery))
	case "cosine":
		n := total - s.Warmup
		if n <= 1 {
			return base
		}
		frac := float64(t) / float64(n-1)
		return s.MinLR + (base-s.MinLR)*0.5*(1+math.Cos(math.Pi*min(frac, 1)))
	}
	return base
}

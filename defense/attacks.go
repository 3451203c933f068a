package defense

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// DefaultEps is the default attack budget on the [0,1] pixel scale: the
// ARP paper's 0.15 on its [-1,1] input scale.
const DefaultEps = 0.075

// AttackNames lists the attacks that generate training examples.
func AttackNames() []string { return []string{"step-ll", "fgsm", "r-step-ll", "pgd"} }

// The objectives take the attack that makes a step's adversarial examples
// as an attack.Spec: one of AttackNames with its budget in Config.Eps
// (L-inf, [0,1] pixel scale). pgd runs as the plain PGD of adversarial
// training (attack.PGD's FinalIterate) with 10 steps of 2.5*eps/steps
// unless Config.Steps and Config.Alpha say otherwise. The attack runs with
// the model in evaluation mode, seeded per step; its result is a constant
// for the loss (no gradient flows through the generation).

// validateAttack checks a training attack.
func validateAttack(s attack.Spec) error {
	known := false
	for _, n := range AttackNames() {
		known = known || n == s.Name
	}
	if !known {
		return fmt.Errorf("unknown training attack %q; known: %s", s.Name, strings.Join(AttackNames(), ", "))
	}
	c := s.Config
	if !(c.Eps > 0) || c.Eps > 1 {
		return fmt.Errorf("attack eps %g must be in (0,1] (pixel scale [0,1]; the paper's 0.15 on [-1,1] is 0.075)", c.Eps)
	}
	if c.Steps < 0 || c.Alpha < 0 || math.IsNaN(c.Alpha) {
		return fmt.Errorf("PGD steps %d and step size %g must be >= 0", c.Steps, c.Alpha)
	}
	return nil
}

// trainingAttack returns s with the training defaults filled in (pgd: 10
// final-iterate steps of 2.5*eps/steps) and seed.
func trainingAttack(s attack.Spec, seed uint64) attack.Spec {
	s.Config.Seed = seed
	if s.Name == "pgd" {
		s.Config.Steps = pgdSteps(s.Config)
		s.Config.Alpha = pgdStepSize(s.Config)
		s.Config.FinalIterate = true
	}
	return s
}

func pgdSteps(c attack.Config) int {
	if c.Steps > 0 {
		return c.Steps
	}
	return 10
}

func pgdStepSize(c attack.Config) float64 {
	if c.Alpha > 0 {
		return c.Alpha
	}
	return 2.5 * c.Eps / float64(pgdSteps(c))
}

// attackSettings describes a training attack for model.json.
func attackSettings(s attack.Spec) map[string]any {
	out := map[string]any{"attack": s.Name, "eps": s.Config.Eps}
	if s.Name == "pgd" {
		out["pgd_steps"] = pgdSteps(s.Config)
		out["pgd_step_size"] = pgdStepSize(s.Config)
	}
	return out
}

// perturb makes the adversarial examples of a step with attack s.
func perturb(ctx context.Context, s attack.Spec, m nn.Classifier, x *tensor.Tensor, y []int, seed uint64) (*tensor.Tensor, error) {
	if err := validateAttack(s); err != nil {
		return nil, err
	}
	a, err := trainingAttack(s, seed).New()
	if err != nil {
		return nil, err
	}
	return a.Perturb(ctx, m, x, y)
}

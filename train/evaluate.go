package train

import (
	"context"
	"fmt"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// EvalResult is an evaluation on the held-out images.
type EvalResult struct {
	Step      int     `json:"step"`
	N         int     `json:"n"`
	CleanAcc  float64 `json:"clean_acc"`
	StepLLAcc float64 `json:"step_ll_acc"`
	Eps       float64 `json:"eps"`
}

// Evaluate returns the clean accuracy and the accuracy under Step-LL with
// budget eps of m on d (evaluation mode, batches of batch images).
func Evaluate(ctx context.Context, m nn.Classifier, d *data.Dataset, eps float64, batch int) (*EvalResult, error) {
	if batch < 1 {
		batch = 100
	}
	if err := nn.CheckInput(m, []int{1, d.C, d.H, d.W}); err != nil {
		return nil, fmt.Errorf("evaluation data %s: %v", d.Name, err)
	}
	r := &EvalResult{N: d.Len(), Eps: eps}
	if d.Len() == 0 {
		return r, nil
	}
	atk := attack.NewStepLL(eps)
	clean, adv := 0, 0
	per := d.ImageSize()
	for lo := 0; lo < d.Len(); lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(d.Len(), lo+batch)
		x := tensor.FromFloat32(append([]float32(nil), d.Images[lo*per:hi*per]...), hi-lo, d.C, d.H, d.W)
		y := d.Labels[lo:hi]
		xa, err := atk.Perturb(ctx, m, x, y)
		if err != nil {
			return nil, err
		}
		for _, pair := range []struct {
			x *tensor.Tensor
			n *int
		}{{x, &clean}, {xa, &adv}} {
			var pred []int
			var ferr error
			autograd.NoGrad(func() {
				ferr = autograd.Try(func() {
					l, _ := m.Forward(autograd.Const(pair.x), nn.Eval)
					pred = autograd.ArgMax(l, 1)
				})
			})
			if ferr != nil {
				return nil, ferr
			}
			for i, p := range pred {
				if p == y[i] {
					*pair.n++
				}
			}
		}
	}
	r.CleanAcc = float64(clean) / float64(d.Len())
	r.StepLLAcc = float64(adv) / float64(d.Len())
	return r, nil
}

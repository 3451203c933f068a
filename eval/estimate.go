package eval

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// TimeEstimate is an evaluation's running time, estimated before it starts
// from the model passes its attacks make and a measured rate.
type TimeEstimate struct {
	// Total is the estimated time of the whole evaluation: every attack
	// on every image at every budget, which is an upper bound in cascade
	// mode (attacks skip images an earlier attack broke, and the
	// early-stopping ones stop on images they break).
	Total time.Duration
	// Gradients and Forwards count the per-image passes through the model
	// (input gradients, forward-only passes) the attacks make at most.
	Gradients, Forwards float64
	// PerGradient and PerForward are the measured times per image.
	PerGradient, PerForward time.Duration
	// Sample is the number of images the rates were measured on, and
	// Correct how many of them the model classifies correctly: the attacks
	// run on the correctly classified images only, estimated as
	// Attacked of the evaluation's.
	Sample, Correct int
	Attacked        float64
}

func (t *TimeEstimate) String() string {
	return fmt.Sprintf("at most about %s: every attack's full budget on the ~%.0f images classified correctly (%d of a sample of %d), "+
		"%.3g input gradients and %.3g forward passes of one image at a measured %s and %s each; attacks that succeed early take less",
		limits.Duration(t.Total), t.Attacked, t.Correct, t.Sample, t.Gradients, t.Forwards, roundRate(t.PerGradient), roundRate(t.PerForward))
}

func roundRate(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(100 * time.Nanosecond).String()
}

// secondOrder is the cost of one step of an attack through the attention
// map (attention-loss: the gradient of a Grad-CAM map, double
// backpropagation) in plain input gradients: an assumption of the
// estimate, not a measurement.
const secondOrder = 3

// attackPasses returns the per-image passes of an attack with the given
// settings at most: input gradients and forward-only passes.
func attackPasses(name string, s map[string]any) (grads, forwards float64) {
	num := func(key string) float64 {
		switch v := s[key].(type) {
		case int:
			return float64(max(v, 1))
		case float64:
			return max(v, 1)
		}
		return 1
	}
	switch name {
	case "square":
		return 0, num("queries")
	case "attention-loss":
		return secondOrder * num("steps") * num("restarts"), 1
	case "gated-step-ll":
		return 1 + 2*secondOrder, 1 // the step and the two attention maps it gates on
	}
	return num("steps") * num("restarts") * num("binary_steps"), 1
}

// Estimate measures how long one input gradient and one forward pass of
// m take per image on a few images of x (at most 16; a quick measurement,
// seconds for large models) and returns the time the evaluation of x with
// opt would take at most.
func Estimate(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, opt Options) (*TimeEstimate, error) {
	src, err := inMemory(m, x, y)
	if err != nil {
		return nil, err
	}
	return EstimateFrom(ctx, m, src, opt)
}

// EstimateFrom is Estimate on the images of src (it reads the sample).
func EstimateFrom(ctx context.Context, m nn.Classifier, src *data.Source, opt Options) (*TimeEstimate, error) {
	e, err := NewFrom(m, src, opt)
	if err != nil {
		return nil, err
	}
	t := &TimeEstimate{Sample: min(e.n, 16, e.opt.BatchSize)}
	d, err := src.Read(0, t.Sample)
	if err != nil {
		return nil, err
	}
	xs := tensor.FromFloat32(d.Images, t.Sample, src.C, src.H, src.W)
	ys := e.y[:t.Sample]
	fgsm, err := attack.New("fgsm", attack.Config{Eps: 1.0 / 255})
	if err != nil {
		return nil, err
	}
	// the first pass of a process is slower (buffers, BLAS start-up):
	// measure the second
	var gradTime, fwdTime time.Duration
	for rep := 0; rep < 2; rep++ {
		start := time.Now()
		pred, _ := nn.Predict(m, xs.F32(), t.Sample, t.Sample)
		fwdTime = time.Since(start)
		t.Correct = 0
		for i, p := range pred {
			if p == ys[i] {
				t.Correct++
			}
		}
		start = time.Now()
		if _, err := fgsm.Perturb(ctx, m, xs, ys); err != nil {
			return nil, err
		}
		gradTime = time.Since(start) - fwdTime // FGSM: a gradient and a forward pass
	}
	t.PerForward = fwdTime / time.Duration(t.Sample)
	t.PerGradient = max(gradTime, fwdTime) / time.Duration(t.Sample)

	t.Gradients, t.Forwards = float64(e.n), float64(e.n) // the clean pass: predictions and input gradients
	t.Attacked = float64(e.n) * float64(t.Correct) / float64(t.Sample)
	for _, th := range e.h.Threats {
		for _, a := range th.Attacks {
			g, f := attackPasses(a.Name, a.Settings)
			t.Gradients += t.Attacked * g
			t.Forwards += t.Attacked * f
		}
	}
	// the sanity checks: the unbounded attack, and in cascade mode every
	// attack on its own, on the check subset
	if checks := float64(min(e.h.CheckImages, e.n)); checks > 0 {
		g, f := attackPasses(e.h.Unbounded.Name, e.h.Unbounded.Settings)
		t.Gradients += checks * g
		t.Forwards += checks * f
		for _, th := range e.h.Threats {
			as := slices.Clone(th.Checks)
			if !e.opt.Standalone {
				as = append(as, th.Attacks...)
			}
			for _, a := range as {
				g, f := attackPasses(a.Name, a.Settings)
				t.Gradients += checks * g
				t.Forwards += checks * f
			}
		}
	}
	t.Total = time.Duration(t.Gradients*float64(t.PerGradient) + t.Forwards*float64(t.PerForward))
	return t, nil
}

package eval

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
)

// TestEstimate: the passes counted are every attack's budget (steps x
// restarts gradients, square's queries as forward passes, three gradients
// per step through the attention map) on the correctly classified share of
// the images, at every budget, plus the clean pass and the checks.
func TestEstimate(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 40)
	opt := Options{Attacks: mustAttacks(t, "pgd:steps=7:restarts=2", "square:queries=50", "attention-loss:steps=3"),
		Eps: []float64{0.1, 0.2}, BatchSize: 20, Seed: 1, Standalone: true, CheckImages: -1}
	est, err := Estimate(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if est.Sample != 16 || est.Correct < 1 || est.Correct > 16 || est.Attacked != 40*float64(est.Correct)/16 {
		t.Fatalf("sample %d, correct %d, attacked %g", est.Sample, est.Correct, est.Attacked)
	}
	a := est.Attacked
	restarts := 1.0 // attention-loss's default restarts
	if s := opt.Attacks[2]; s.Config.Restarts > 0 {
		restarts = float64(s.Config.Restarts)
	}
	wantG := 40 + 2*a*(7*2+3*3*restarts)
	wantF := 40 + 2*a*(1+50+1)
	if math.Abs(est.Gradients-wantG) > 1e-9 || math.Abs(est.Forwards-wantF) > 1e-9 {
		t.Errorf("passes: %g gradients, %g forwards; want %g, %g", est.Gradients, est.Forwards, wantG, wantF)
	}
	if est.PerGradient <= 0 || est.PerForward <= 0 || est.Total <= 0 {
		t.Errorf("rates %v %v, total %v", est.PerGradient, est.PerForward, est.Total)
	}
	if s := est.String(); !strings.HasPrefix(s, "at most about ") || !strings.Contains(s, "measured") {
		t.Errorf("String: %s", s)
	}
	// in cascade mode the check subset runs every attack once more
	opt.Standalone, opt.CheckImages = false, 10
	casc, err := Estimate(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !(casc.Gradients > est.Gradients+10*2*7*2) {
		t.Errorf("cascade with 10 check images: %g gradients, standalone %g", casc.Gradients, est.Gradients)
	}
}

// TestEstimateTune: the tuning's estimate counts PGD and the attack with
// every weight, stand-alone, at the steps and restarts asked for.
func TestEstimateTune(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 40)
	opt := TuneOptions{Lambdas: []float64{0, 1}, Eps: 0.1, Steps: 4, Restarts: 2, Options: Options{BatchSize: 20, Seed: 1}}
	est, err := EstimateTune(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	a := est.Attacked
	// PGD: 4 steps x 2 restarts; attention-loss twice: 4 x 2 second-order steps
	wantG := 40 + a*(4*2+2*secondOrder*4*2)
	if math.Abs(est.Gradients-wantG) > 1e-9 || est.Total <= 0 {
		t.Errorf("gradients %g, want %g; total %v", est.Gradients, wantG, est.Total)
	}
	opt.Lambdas = []float64{1, 1}
	if _, err := EstimateTune(context.Background(), m, x, y, opt); err == nil {
		t.Error("a weight listed twice was accepted")
	}
}

package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
)

func TestSelectLambda(t *testing.T) {
	l := func(v float64) *float64 { return &v }
	rs := []TuneResult{{Lambda: l(3), Accuracy: Counts{Correct: 40}}, {Lambda: l(1), Accuracy: Counts{Correct: 40}}, {Lambda: l(0), Accuracy: Counts{Correct: 41}}, {Lambda: l(10), Accuracy: Counts{Correct: 45}}}
	if got := selectLambda(rs); got != 1 {
		t.Fatalf("selected %d (lambda %g), want lambda 1: the lowest accuracy, the smaller weight on a tie", got, *rs[got].Lambda)
	}
}

// TestTuneSelectsSensibly: with a weight so large that the attention term
// drowns the cross-entropy's gradient, the attack is weaker than with
// lambda 0 (which is PGD with another random start), and Tune picks the
// weight that leaves the lowest accuracy.
func TestTuneSelectsSensibly(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 60)
	rep, err := Tune(context.Background(), m, x, y, TuneOptions{Lambdas: []float64{1000, 0}, Eps: 0.1, Steps: 8, Restarts: 1,
		Options: Options{BatchSize: 30, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var zero, big TuneResult
	for _, r := range rep.Results {
		if *r.Lambda == 0 {
			zero = r
		} else {
			big = r
		}
	}
	t.Logf("PGD %d, lambda 0 %d, lambda 1000 %d correct of %d", rep.PGD.Accuracy.Correct, zero.Accuracy.Correct, big.Accuracy.Correct, zero.Accuracy.Total)
	if !(big.Accuracy.Correct > zero.Accuracy.Correct) {
		t.Fatalf("lambda 1000 (%d correct) is not weaker than lambda 0 (%d): the test's premise fails", big.Accuracy.Correct, zero.Accuracy.Correct)
	}
	if rep.Selected != 0 || rep.Spec != "attention-loss:steps=8:restarts=1:lambda=0" {
		t.Fatalf("selected lambda %g (%s)", rep.Selected, rep.Spec)
	}
	if d := zero.Accuracy.Correct - rep.PGD.Accuracy.Correct; d < -3 || d > 3 {
		t.Errorf("lambda 0 (%d correct) differs from PGD (%d) by more than 3 images", zero.Accuracy.Correct, rep.PGD.Accuracy.Correct)
	}
	var md strings.Builder
	if err := rep.Markdown(&md); err != nil || !strings.Contains(md.String(), "**(selected)**") || !strings.Contains(md.String(), "pgd:steps=8:restarts=1 (reference)") {
		t.Fatalf("markdown (%v):\n%s", err, md.String())
	}
	for _, bad := range []TuneOptions{{Eps: 0.1}, {Lambdas: []float64{1, 1}, Eps: 0.1}, {Lambdas: []float64{-1}, Eps: 0.1}, {Lambdas: []float64{1}, Eps: 0}} {
		if _, err := Tune(context.Background(), m, x, y, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

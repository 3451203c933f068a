package lime

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSubmodularPick(t *testing.T) {
	fw := func(kv ...any) []FeatureWeight {
		var out []FeatureWeight
		for i := 0; i < len(kv); i += 2 {
			out = append(out, FeatureWeight{Name: kv[i].(string), Weight: kv[i+1].(float64)})
		}
		return out
	}
	exps := [][]FeatureWeight{
		fw("a", 1.0, "b", 1.0),   // 0
		fw("a", 1.0, "b", -1.0),  // 1: covers the same features as 0
		fw("c", 2.0),             // 2
		fw("a", 0.1),             // 3
		fw("d", 0.25, "a", -0.2), // 4
	}
	// Importance: a = sqrt(2.3), b = sqrt(2), c = sqrt(2), d = 0.5.
	p, err := SubmodularPick(exps, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Indices, []int{0, 2, 4}) {
		t.Fatalf("picked %v, want [0 2 4]", p.Indices)
	}
	if !slices.Equal(p.Features, []string{"a", "b", "c", "d"}) {
		t.Fatalf("features %v", p.Features)
	}
	want := []float64{math.Sqrt(2.3), math.Sqrt2, math.Sqrt2, 0.5}
	for i := range want {
		if !near(p.Importance[i], want[i], 1e-12) {
			t.Errorf("importance of %s %v, want %v", p.Features[i], p.Importance[i], want[i])
		}
	}
	cov := []float64{want[0] + want[1], want[0] + want[1] + want[2], want[0] + want[1] + want[2] + want[3]}
	for i := range cov {
		if !near(p.Coverage[i], cov[i], 1e-12) {
			t.Errorf("coverage after %d picks %v, want %v", i+1, p.Coverage[i], cov[i])
		}
	}
	// A budget beyond the number of explanations picks them all.
	p, err = SubmodularPick(exps, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Indices) != 5 {
		t.Errorf("picked %v, want all 5", p.Indices)
	}
	for _, b := range []int{0, -1} {
		if _, err := SubmodularPick(exps, b); err == nil || !strings.Contains(err.Error(), "budget") {
			t.Errorf("budget %d: error %v", b, err)
		}
	}
	if _, err := SubmodularPick(nil, 1); err == nil {
		t.Error("no error for no explanations")
	}
	if _, err := SubmodularPick([][]FeatureWeight{fw("a", math.NaN())}, 1); err == nil {
		t.Error("no error for a NaN weight")
	}
}

// SP-LIME over text explanations: documents driven by different words; the
// pick covers both driving words first.
func TestSubmodularPickText(t *testing.T) {
	classify := func(ctx context.Context, texts []string) ([][]float64, error) {
		out := make([][]float64, len(texts))
		for i, s := range texts {
			_, vocab, _ := bagOfWords(s)
			p := 0.1
			if slices.Contains(vocab, "good") {
				p += 0.6
			}
			if slices.Contains(vocab, "nice") {
				p += 0.3
			}
			out[i] = []float64{1 - p, p}
		}
		return out, nil
	}
	docs := []string{"a good film", "good good story", "nice plot here", "a good and nice day"}
	var exps [][]FeatureWeight
	for _, d := range docs {
		o := DefaultTextOptions()
		o.NumSamples = 200
		o.Labels = []int{1}
		o.NumFeatures = 2
		e, err := ExplainText(context.Background(), d, classify, o)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := e.List(1)
		exps = append(exps, l)
	}
	p, err := SubmodularPick(exps, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Only document 3 explains both words.
	if !slices.Equal(p.Indices, []int{3}) {
		t.Errorf("picked %v, want [3]; explanations %v", p.Indices, exps)
	}
}

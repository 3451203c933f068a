package lime

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// trainingData: n rows of 5 features; x0..x2 and x4 continuous (x0 ~ U(0,1),
// x1 ~ N(5, 2), x2 ~ U(-1,1), x4 ~ U(0,1)), x3 categorical in {0,1,2} with
// frequencies 1/2, 1/3, 1/6.
func trainingData(n int, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 4))
	x := make([][]float64, n)
	for i := range x {
		u := r.Float64()
		cat := 0.0
		switch {
		case u > 5.0/6:
			cat = 2
		case u > 0.5:
			cat = 1
		}
		x[i] = []float64{r.Float64(), 5 + 2*r.NormFloat64(), 2*r.Float64() - 1, cat, r.Float64()}
	}
	return x
}

// sparseModel is a regressor y = 2 x0 - 3 x2 + 1.5 [x3 == 2].
func sparseModel(ctx context.Context, rows [][]float64) ([][]float64, error) {
	out := make([][]float64, len(rows))
	for i, r := range rows {
		y := 2*r[0] - 3*r[2]
		if r[3] == 2 {
			y += 1.5
		}
		out[i] = []float64{y}
	}
	return out, nil
}

func tabularExplainer(t *testing.T, d Discretizer) *TabularExplainer {
	t.Helper()
	ex, err := NewTabularExplainer(trainingData(400, 1), TabularConfig{
		Categorical:   []int{3},
		CategoryNames: map[int][]string{3: {"red", "green", "blue"}},
		Discretizer:   d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// Without discretisation the interpretable features are the standardised
// values, so LIME's weight of a continuous feature is coefficient *
// training standard deviation: dividing by it recovers the coefficients.
func TestTabularRecoversLinearModelContinuous(t *testing.T) {
	ex := tabularExplainer(t, DiscretizeNone)
	row := []float64{0.8, 4, 0.7, 2, 0.3}
	for _, sel := range []Selection{SelectForward, SelectLassoPath, SelectHighestWeights} {
		t.Run(sel.String(), func(t *testing.T) {
			o := DefaultTabularOptions()
			o.NumSamples = 1000
			o.NumFeatures = 3
			o.Selection = sel
			o.Seed = 3
			e, err := ex.Explain(context.Background(), row, sparseModel, o)
			if err != nil {
				t.Fatal(err)
			}
			list, err := e.List(0)
			if err != nil {
				t.Fatal(err)
			}
			feats := []int{list[0].Feature, list[1].Feature, list[2].Feature}
			// |2 * sd(x0)| = 0.58, |-3 * sd(x2)| = 1.73, categorical ~1.5.
			if !slices.Equal(feats, []int{2, 3, 0}) {
				t.Fatalf("features %v, want [2 3 0]: %v", feats, list)
			}
			want := map[int]float64{0: 2, 2: -3}
			for _, fw := range list {
				if fw.Feature == 3 {
					if fw.Name != "x3=blue" || !near(fw.Weight, 1.5, 0.1) {
						t.Errorf("categorical feature: %q weight %v, want %q about 1.5", fw.Name, fw.Weight, "x3=blue")
					}
					continue
				}
				got := fw.Weight / ex.scale[fw.Feature]
				if !near(got, want[fw.Feature], 0.05*math.Abs(want[fw.Feature])) {
					t.Errorf("feature %d: weight/sd %v, want %v", fw.Feature, got, want[fw.Feature])
				}
			}
		})
	}
}

// With quartile discretisation the features are "in the instance's bin";
// for uniform x0 in its top quartile the expected weight is
// 2 * (E[x0 | top] - E[x0 | other bins]) = 2 * (0.875 - 0.375) = 1 and for
// x2 (width 2) -3 * 2 * 0.5 = -3.
func TestTabularRecoversLinearModelDiscretized(t *testing.T) {
	ex := tabularExplainer(t, DiscretizeQuartile)
	row := []float64{0.9, 4, 0.8, 2, 0.3}
	o := DefaultTabularOptions()
	o.NumSamples = 2000
	o.Seed = 5
	e, err := ex.Explain(context.Background(), row, sparseModel, o)
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.List(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Fatalf("%d features, want all 5: %v", len(list), list)
	}
	order := []int{list[0].Feature, list[1].Feature, list[2].Feature}
	if !slices.Equal(order, []int{2, 3, 0}) {
		t.Fatalf("ranking %v, want [2 3 0]: %v", order, list)
	}
	want := map[int]float64{0: 1, 2: -3, 3: 1.5}
	pat := map[int]*regexp.Regexp{
		0: regexp.MustCompile(`^x0 > 0\.\d\d$`),
		1: regexp.MustCompile(`^\d\.\d\d < x1 <= \d\.\d\d$|^x1 <= \d\.\d\d$`),
		2: regexp.MustCompile(`^x2 > 0\.\d\d$`),
		4: regexp.MustCompile(`^0\.\d\d < x4 <= 0\.\d\d$`),
	}
	for _, fw := range list {
		if w, ok := want[fw.Feature]; ok {
			if !near(fw.Weight, w, 0.15*math.Abs(w)) {
				t.Errorf("%s: weight %v, want about %v", fw.Name, fw.Weight, w)
			}
		} else if math.Abs(fw.Weight) > 0.1 {
			t.Errorf("%s: weight %v, want about 0", fw.Name, fw.Weight)
		}
		if p, ok := pat[fw.Feature]; ok && !p.MatchString(fw.Name) {
			t.Errorf("feature %d described as %q", fw.Feature, fw.Name)
		}
	}
	if e.Names[3] != "x3=blue" {
		t.Errorf("categorical description %q, want x3=blue", e.Names[3])
	}
	if !near(e.Predictions[0], 2*0.9-3*0.8+1.5, 1e-12) {
		t.Errorf("prediction %v", e.Predictions)
	}
}

func TestTabularClassifierAndDeterminism(t *testing.T) {
	ex := tabularExplainer(t, DiscretizeQuartile)
	classify := func(ctx context.Context, rows [][]float64) ([][]float64, error) {
		out, _ := sparseModel(ctx, rows)
		for i, r := range out {
			p := 1 / (1 + math.Exp(-r[0]))
			out[i] = []float64{1 - p, p}
		}
		return out, nil
	}
	o := DefaultTabularOptions()
	o.NumSamples = 300
	o.BatchSize = 7
	o.Labels = []int{0, 1}
	o.Seed = 9
	row := []float64{0.1, 6, -0.9, 0, 0.5}
	a, err := ex.Explain(context.Background(), row, classify, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ex.Explain(context.Background(), row, classify, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	o.Seed = 10
	if c, _ := ex.Explain(context.Background(), row, classify, o); reflect.DeepEqual(a.Local, c.Local) {
		t.Error("different seeds gave identical explanations")
	}
	// x2 = -0.9 is in its lowest quartile, where -3 x2 is large: positive
	// for class 1, negative for class 0.
	l1, _ := a.List(1)
	if l1[0].Feature != 2 || l1[0].Weight <= 0 || !strings.HasPrefix(l1[0].Name, "x2 <= ") {
		t.Errorf("class 1 top feature %+v, want x2 <= ... with positive weight", l1[0])
	}
	if w := a.Local[0].Weight(2); w >= 0 {
		t.Errorf("class 0 weight of x2 %v, want negative", w)
	}
	// The most probable label is chosen by default.
	o.Labels = nil
	d, _ := ex.Explain(context.Background(), row, classify, o)
	if !slices.Equal(d.Labels, []int{1}) {
		t.Errorf("default labels %v, want [1]", d.Labels)
	}
}

func TestTabularSample(t *testing.T) {
	ex := tabularExplainer(t, DiscretizeQuartile)
	row := []float64{0.9, 4, 0.8, 1, 0.3}
	data, inv, err := ex.Sample(row, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inv[0], row) || !slices.Equal(data[0], []float64{1, 1, 1, 1, 1}) {
		t.Fatalf("first sample %v / %v, want the row and all ones", inv[0], data[0])
	}
	counts := map[float64]int{}
	for i := range data {
		for j := range row {
			// The binary feature says whether the sample is in the
			// instance's bin (or has its category).
			same := inv[i][j] == row[j]
			if j != 3 {
				same = ex.bin(j, inv[i][j]) == ex.bin(j, row[j])
			}
			if (data[i][j] == 1) != same {
				t.Fatalf("sample %d feature %d: binary %v but value %v vs %v", i, j, data[i][j], inv[i][j], row[j])
			}
		}
		counts[inv[i][3]]++
		// Undiscretised values stay in the training range.
		if inv[i][0] < ex.binMin[0][0] || inv[i][0] > ex.binMax[0][len(ex.binMax[0])-1] {
			t.Fatalf("x0 sample %v outside the training range", inv[i][0])
		}
	}
	if counts[0] < 180 || counts[0] > 320 || counts[2] < 40 || counts[2] > 130 {
		t.Errorf("categorical frequencies %v, want about 250/167/83", counts)
	}
}

func TestTabularHelpers(t *testing.T) {
	s := []float64{1, 2, 3, 4}
	for q, want := range map[float64]float64{25: 1.75, 50: 2.5, 75: 3.25, 0: 1, 100: 4} {
		if got := percentile(s, q); !near(got, want, 1e-12) {
			t.Errorf("percentile %v = %v, want %v", q, got, want)
		}
	}
	vals, fr := frequencies([]float64{2, 0, 2, 2})
	if !slices.Equal(vals, []float64{0, 2}) || !slices.Equal(fr, []float64{0.25, 0.75}) {
		t.Errorf("frequencies %v %v", vals, fr)
	}
	r := newRand(1)
	sum := 0.0
	for i := 0; i < 2000; i++ {
		v := truncNormal(r, 0, 1, 0.5, 2)
		if v < 0.5 || v > 2 {
			t.Fatalf("truncated normal sample %v outside [0.5, 2]", v)
		}
		sum += v
		if v := truncNormal(r, 10, 1e-11, 9, 11); !near(v, 10, 1e-9) {
			t.Fatalf("narrow truncated normal %v", v)
		}
		if v := truncNormal(r, 0, 1, 40, 41); v < 40 || v > 41 {
			t.Fatalf("far-tail truncated normal %v", v)
		}
	}
	// Mean of N(0,1) truncated to [0.5, 2] is (φ(0.5)-φ(2))/(Φ(2)-Φ(0.5)) = 1.0430.
	if m := sum / 2000; !near(m, 1.043, 0.03) {
		t.Errorf("truncated normal mean %v, want 1.043", m)
	}
	// A constant feature (its quartiles collapse to one boundary) and
	// b = 0 0 1 5 with quartiles 0, 0.5, 2.
	ex, err := NewTabularExplainer([][]float64{{1, 0}, {1, 0}, {1, 1}, {1, 5}}, TabularConfig{FeatureNames: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := ex.Describe([]float64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d, []string{"a <= 1.00", "0.50 < b <= 2.00"}) {
		t.Errorf("descriptions %q", d)
	}
}

func TestTabularBadInput(t *testing.T) {
	train := trainingData(20, 2)
	nan := trainingData(20, 2)
	nan[3][1] = math.NaN()
	cfgTests := []struct {
		name  string
		train [][]float64
		cfg   TabularConfig
		want  string
	}{
		{"empty", nil, TabularConfig{}, "empty training data"},
		{"no features", [][]float64{{}}, TabularConfig{}, "no features"},
		{"ragged", [][]float64{{1, 2}, {1}}, TabularConfig{}, "row 1 has 1 features"},
		{"nan", nan, TabularConfig{}, "row 3 feature 1"},
		{"names", train, TabularConfig{FeatureNames: []string{"a"}}, "1 feature names"},
		{"categorical", train, TabularConfig{Categorical: []int{5}}, "index 5 out of range"},
		{"category names", train, TabularConfig{CategoryNames: map[int][]string{0: {"a"}}}, "not a categorical"},
		{"discretizer", train, TabularConfig{Discretizer: 7}, "unknown discretizer"},
		{"kernel", train, TabularConfig{KernelWidth: -2}, "KernelWidth"},
	}
	for _, tc := range cfgTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTabularExplainer(tc.train, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	ex, err := NewTabularExplainer(train, TabularConfig{})
	if err != nil {
		t.Fatal(err)
	}
	row := train[0]
	base := DefaultTabularOptions()
	base.NumSamples = 20
	mod := func(f func(*TabularOptions)) TabularOptions { o := base; f(&o); return o }
	two := func(ctx context.Context, rows [][]float64) ([][]float64, error) {
		out := make([][]float64, len(rows))
		for i := range out {
			out[i] = []float64{0.5, 0.5}
		}
		return out, nil
	}
	short := func(ctx context.Context, rows [][]float64) ([][]float64, error) { return nil, nil }
	ragged := func(ctx context.Context, rows [][]float64) ([][]float64, error) {
		out, _ := two(ctx, rows)
		out[len(out)-1] = []float64{1}
		return out, nil
	}
	tests := []struct {
		name    string
		row     []float64
		predict PredictRows
		opts    TabularOptions
		want    string
	}{
		{"row length", row[:3], two, base, "row has 3 features"},
		{"row nan", []float64{0, math.NaN(), 0, 0, 0}, two, base, "feature 1 of the row"},
		{"zero samples", row, two, mod(func(o *TabularOptions) { o.NumSamples = 0 }), "NumSamples"},
		{"features", row, two, mod(func(o *TabularOptions) { o.NumFeatures = 0 }), "NumFeatures"},
		{"labels", row, two, mod(func(o *TabularOptions) { o.Labels = []int{2} }), "label 2 out of range"},
		{"batch", row, two, mod(func(o *TabularOptions) { o.BatchSize = -3 }), "BatchSize"},
		{"nil predict", row, nil, base, "nil predict"},
		{"short output", row, short, base, "0 rows for 20 inputs"},
		{"ragged output", row, ragged, base, "row 19 has 1 values, want 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ex.Explain(context.Background(), tc.row, tc.predict, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

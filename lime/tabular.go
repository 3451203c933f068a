package lime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// PredictRows returns model outputs for a batch of rows: class
// probabilities for a classifier, or a single column for a regressor.
type PredictRows func(ctx context.Context, rows [][]float64) ([][]float64, error)

// Discretizer selects how continuous tabular features are made
// interpretable.
type Discretizer int

const (
	// DiscretizeQuartile replaces every continuous feature by its quartile
	// bin (LIME's default); the interpretable feature is "in the same bin
	// as the instance", described as e.g. "0.12 < x2 <= 0.35".
	DiscretizeQuartile Discretizer = iota
	// DiscretizeNone keeps continuous features continuous; their weights
	// are per training standard deviation.
	DiscretizeNone
)

// TabularConfig describes the training data of a [TabularExplainer].
type TabularConfig struct {
	// FeatureNames default to "x0", "x1", ...
	FeatureNames []string
	// Categorical lists the indices of categorical features, whose values
	// are codes sampled with their training frequencies.
	Categorical []int
	// CategoryNames optionally names the integer codes of a categorical
	// feature: CategoryNames[j][v] is the name of value v of feature j.
	CategoryNames map[int][]string
	// Discretizer for continuous features.
	Discretizer Discretizer
	// KernelWidth of the exponential kernel on Euclidean distance
	// (0: sqrt(number of features) * 0.75).
	KernelWidth float64
}

// TabularExplainer holds training-data statistics for explaining
// predictions on tabular rows, as the Python LIME's LimeTabularExplainer.
type TabularExplainer struct {
	p           int
	names       []string
	categorical []bool
	catNames    map[int][]string
	discretize  bool
	width       float64
	mean, scale []float64 // standard scaling of continuous features

	// Sampling distribution of categorical (and discretised) features.
	values, freqs [][]float64

	// Quartile discretisation of continuous features (nil otherwise).
	bins                            [][]float64
	binNames                        [][]string
	binMean, binStd, binMin, binMax [][]float64
}

// NewTabularExplainer computes the statistics LIME samples from: per
// feature mean and standard deviation, quartiles and per-bin statistics of
// continuous features, and value frequencies of categorical features.
func NewTabularExplainer(train [][]float64, cfg TabularConfig) (*TabularExplainer, error) {
	if len(train) == 0 {
		return nil, errors.New("lime: empty training data")
	}
	p := len(train[0])
	if p == 0 {
		return nil, errors.New("lime: training rows have no features")
	}
	for i, row := range train {
		if len(row) != p {
			return nil, fmt.Errorf("lime: training row %d has %d features, row 0 has %d", i, len(row), p)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("lime: training row %d feature %d is %v", i, j, v)
			}
		}
	}
	if cfg.Discretizer != DiscretizeQuartile && cfg.Discretizer != DiscretizeNone {
		return nil, fmt.Errorf("lime: unknown discretizer %d", cfg.Discretizer)
	}
	if cfg.KernelWidth < 0 || math.IsNaN(cfg.KernelWidth) || math.IsInf(cfg.KernelWidth, 0) {
		return nil, fmt.Errorf("lime: KernelWidth %v, want a finite value > 0 (or 0 for the default)", cfg.KernelWidth)
	}
	t := &TabularExplainer{
		p:           p,
		categorical: make([]bool, p),
		catNames:    map[int][]string{},
		discretize:  cfg.Discretizer == DiscretizeQuartile,
		width:       cfg.KernelWidth,
		mean:        make([]float64, p),
		scale:       make([]float64, p),
		values:      make([][]float64, p),
		freqs:       make([][]float64, p),
	}
	if t.width == 0 {
		t.width = math.Sqrt(float64(p)) * 0.75
	}
	switch {
	case cfg.FeatureNames == nil:
		for j := 0; j < p; j++ {
			t.names = append(t.names, fmt.Sprintf("x%d", j))
		}
	case len(cfg.FeatureNames) != p:
		return nil, fmt.Errorf("lime: %d feature names for %d features", len(cfg.FeatureNames), p)
	default:
		t.names = slices.Clone(cfg.FeatureNames)
	}
	for _, j := range cfg.Categorical {
		if j < 0 || j >= p {
			return nil, fmt.Errorf("lime: categorical feature index %d out of range [0,%d)", j, p)
		}
		t.categorical[j] = true
	}
	for j, names := range cfg.CategoryNames {
		if j < 0 || j >= p || !t.categorical[j] {
			return nil, fmt.Errorf("lime: CategoryNames given for feature %d, which is not a categorical feature", j)
		}
		t.catNames[j] = slices.Clone(names)
	}

	n := len(train)
	col := make([]float64, n)
	for j := 0; j < p; j++ {
		for i, row := range train {
			col[i] = row[j]
		}
		m, sd := meanStd(col)
		if sd == 0 {
			sd = 1
		}
		t.mean[j], t.scale[j] = m, sd
		if t.categorical[j] {
			t.values[j], t.freqs[j] = frequencies(col)
		}
	}
	if t.discretize {
		t.bins = make([][]float64, p)
		t.binNames = make([][]string, p)
		t.binMean = make([][]float64, p)
		t.binStd = make([][]float64, p)
		t.binMin = make([][]float64, p)
		t.binMax = make([][]float64, p)
		sorted := make([]float64, n)
		for j := 0; j < p; j++ {
			if t.categorical[j] {
				continue
			}
			for i, row := range train {
				col[i] = row[j]
			}
			copy(sorted, col)
			sort.Float64s(sorted)
			qs := []float64{percentile(sorted, 25), percentile(sorted, 50), percentile(sorted, 75)}
			qs = slices.Compact(qs)
			t.bins[j] = qs
			name := t.names[j]
			names := []string{fmt.Sprintf("%s <= %.2f", name, qs[0])}
			for b := 0; b+1 < len(qs); b++ {
				names = append(names, fmt.Sprintf("%.2f < %s <= %.2f", qs[b], name, qs[b+1]))
			}
			names = append(names, fmt.Sprintf("%s > %.2f", name, qs[len(qs)-1]))
			t.binNames[j] = names
			nb := len(qs) + 1
			disc := make([]float64, n)
			for i, v := range col {
				disc[i] = float64(t.bin(j, v))
			}
			t.binMin[j] = append([]float64{sorted[0]}, qs...)
			t.binMax[j] = append(slices.Clone(qs), sorted[n-1])
			t.binMean[j] = make([]float64, nb)
			t.binStd[j] = make([]float64, nb)
			var sel []float64
			for b := 0; b < nb; b++ {
				sel = sel[:0]
				for i, v := range col {
					if int(disc[i]) == b {
						sel = append(sel, v)
					}
				}
				if len(sel) > 0 {
					t.binMean[j][b], t.binStd[j][b] = meanStd(sel)
				}
				t.binStd[j][b] += 1e-11
			}
			// Discretised features are sampled as categorical bin indices.
			t.values[j], t.freqs[j] = frequencies(disc)
		}
	}
	return t, nil
}

// NumFeatures returns the number of features of the training data.
func (t *TabularExplainer) NumFeatures() int { return t.p }

// bin returns the quartile bin of value v of continuous feature j: the
// number of boundaries strictly below v.
func (t *TabularExplainer) bin(j int, v float64) int {
	return sort.SearchFloat64s(t.bins[j], v)
}

// binary reports whether feature j is turned into an on/off feature.
func (t *TabularExplainer) binary(j int) bool { return t.categorical[j] || t.discretize }

// Describe returns the readable description of every feature of row, as
// used in explanations: "x2 <= 0.35" for discretised features,
// "colour=red" for categorical ones, the bare name for continuous ones.
func (t *TabularExplainer) Describe(row []float64) ([]string, error) {
	if len(row) != t.p {
		return nil, fmt.Errorf("lime: row has %d features, the training data has %d", len(row), t.p)
	}
	d := make([]string, t.p)
	for j, v := range row {
		switch {
		case t.categorical[j]:
			name := fmt.Sprintf("%g", v)
			if names, ok := t.catNames[j]; ok && v == math.Trunc(v) && v >= 0 && int(v) < len(names) {
				name = names[int(v)]
			}
			d[j] = t.names[j] + "=" + name
		case t.discretize:
			d[j] = t.binNames[j][t.bin(j, v)]
		default:
			d[j] = t.names[j]
		}
	}
	return d, nil
}

// TabularOptions configures [TabularExplainer.Explain]. Start from
// [DefaultTabularOptions].
type TabularOptions struct {
	NumSamples int // perturbed rows including the instance (>= 2)
	BatchSize  int // rows per predict call (0: all at once)
	// Labels to explain; if empty the TopLabels highest outputs of the
	// instance. A regressor has one output, label 0.
	Labels      []int
	TopLabels   int
	NumFeatures int // maximum features per explanation
	Selection   Selection
	Alpha       float64 // ridge penalty of the local model
	Seed        uint64
}

// DefaultTabularOptions returns the Python LIME tabular defaults (5000
// samples, 10 features, automatic selection, ridge alpha 1), explaining the
// most probable label.
func DefaultTabularOptions() TabularOptions {
	return TabularOptions{NumSamples: 5000, TopLabels: 1, NumFeatures: 10, Selection: SelectAuto, Alpha: 1}
}

// TabularExplanation is the result of [TabularExplainer.Explain].
type TabularExplanation struct {
	// Names describes every feature for the explained row (see
	// [TabularExplainer.Describe]); feature j of each explanation is Names[j].
	Names       []string
	Predictions []float64 // model outputs for the explained row
	Labels      []int
	Local       map[int]*Explanation
}

// List returns the explanation of label as named feature weights, by
// decreasing |weight|.
func (e *TabularExplanation) List(label int) ([]FeatureWeight, error) {
	x, ok := e.Local[label]
	if !ok {
		return nil, fmt.Errorf("lime: label %d was not explained (explained: %v)", label, e.Labels)
	}
	return named(x, e.Names), nil
}

func named(x *Explanation, names []string) []FeatureWeight {
	out := make([]FeatureWeight, len(x.Features))
	for i, f := range x.Features {
		out[i] = FeatureWeight{Feature: f, Name: names[f], Weight: x.Weights[i]}
	}
	return out
}

func (o *TabularOptions) validate() error {
	switch {
	case o.NumSamples < 2:
		return fmt.Errorf("lime: NumSamples %d, want >= 2", o.NumSamples)
	case o.BatchSize < 0:
		return fmt.Errorf("lime: BatchSize %d, want >= 0", o.BatchSize)
	case len(o.Labels) == 0 && o.TopLabels < 1:
		return fmt.Errorf("lime: no labels to explain: Labels is empty and TopLabels is %d", o.TopLabels)
	case o.NumFeatures < 1:
		return fmt.Errorf("lime: NumFeatures %d, want >= 1", o.NumFeatures)
	case !(o.Alpha >= 0) || math.IsInf(o.Alpha, 0):
		return fmt.Errorf("lime: Alpha %v, want a finite value >= 0", o.Alpha)
	}
	for _, l := range o.Labels {
		if l < 0 {
			return fmt.Errorf("lime: negative label %d", l)
		}
	}
	return nil
}

// Sample draws LIME's neighbourhood of row: data holds the interpretable
// representation (binary "same value/bin as the instance" for categorical
// and discretised features, standardised values for continuous ones) and
// inverse the corresponding rows in the original feature space. Row 0 of
// both is the instance itself.
func (t *TabularExplainer) Sample(row []float64, n int, seed uint64) (data, inverse [][]float64, err error) {
	if len(row) != t.p {
		return nil, nil, fmt.Errorf("lime: row has %d features, the training data has %d", len(row), t.p)
	}
	for j, v := range row {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("lime: feature %d of the row is %v", j, v)
		}
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("lime: %d samples requested", n)
	}
	rng := newRand(seed)
	data = make([][]float64, n)
	inverse = make([][]float64, n)
	for i := range data {
		data[i] = make([]float64, t.p)
		inverse[i] = make([]float64, t.p)
	}
	for j := 0; j < t.p; j++ {
		if !t.binary(j) {
			for i := 0; i < n; i++ {
				x := row[j]
				if i > 0 {
					x = rng.NormFloat64()*t.scale[j] + t.mean[j]
				}
				inverse[i][j] = x
				data[i][j] = (x - t.mean[j]) / t.scale[j]
			}
			continue
		}
		first := row[j]
		if !t.categorical[j] {
			first = float64(t.bin(j, row[j]))
		}
		vals, fr := t.values[j], t.freqs[j]
		for i := 0; i < n; i++ {
			if i == 0 {
				data[i][j] = 1
				inverse[i][j] = row[j]
				continue
			}
			v := vals[pick(rng, fr)]
			if v == first {
				data[i][j] = 1
			}
			if t.categorical[j] {
				inverse[i][j] = v
			} else {
				b := int(v)
				inverse[i][j] = truncNormal(rng, t.binMean[j][b], t.binStd[j][b], t.binMin[j][b], t.binMax[j][b])
			}
		}
	}
	return data, inverse, nil
}

// Explain explains predict's output for row. It samples NumSamples rows
// around it (see [TabularExplainer.Sample]), weights them by the
// exponential kernel of their Euclidean distance to the instance in the
// interpretable space, and fits a sparse weighted ridge model per label.
func (t *TabularExplainer) Explain(ctx context.Context, row []float64, predict PredictRows, opts TabularOptions) (*TabularExplanation, error) {
	if predict == nil {
		return nil, errors.New("lime: nil predict function")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	names, err := t.Describe(row)
	if err != nil {
		return nil, err
	}
	data, inverse, err := t.Sample(row, opts.NumSamples, opts.Seed)
	if err != nil {
		return nil, err
	}
	out, err := predictBatches(ctx, len(inverse), opts.BatchSize, func(ctx context.Context, lo, hi int) ([][]float64, error) {
		return predict(ctx, inverse[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	dist := make([]float64, len(data))
	for i, r := range data {
		dist[i] = EuclideanDistance(r, data[0])
	}
	res := &TabularExplanation{Names: names, Predictions: out[0], Local: map[int]*Explanation{}}
	res.Labels, err = pickLabels(opts.Labels, opts.TopLabels, out[0])
	if err != nil {
		return nil, err
	}
	if err := fitLabels(ctx, data, out, KernelWeights(dist, t.width), res.Labels, opts.NumFeatures, opts.Selection, opts.Alpha, res.Local); err != nil {
		return nil, err
	}
	return res, nil
}

// predictBatches calls f on consecutive ranges of n inputs and checks the
// combined output.
func predictBatches(ctx context.Context, n, bs int, f func(ctx context.Context, lo, hi int) ([][]float64, error)) ([][]float64, error) {
	if bs == 0 {
		bs = n
	}
	all := make([][]float64, 0, n)
	k := 0
	for lo := 0; lo < n; lo += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(n, lo+bs)
		out, err := f(ctx, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("lime: predicting samples %d..%d: %w", lo, hi-1, err)
		}
		if k, err = checkProbs(out, hi-lo, k); err != nil {
			return nil, err
		}
		for _, r := range out {
			all = append(all, slices.Clone(r))
		}
	}
	return all, nil
}

func fitLabels(ctx context.Context, data, out [][]float64, weights []float64, labels []int, nf int, sel Selection, alpha float64, dst map[int]*Explanation) error {
	fo := FitOptions{NumFeatures: nf, Selection: sel, Alpha: alpha}
	y := make([]float64, len(out))
	for _, l := range labels {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range y {
			y[i] = out[i][l]
		}
		e, err := Fit(data, y, weights, fo)
		if err != nil {
			return fmt.Errorf("lime: label %d: %w", l, err)
		}
		e.Label = l
		dst[l] = e
	}
	return nil
}

func meanStd(x []float64) (float64, float64) {
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return m, math.Sqrt(s / float64(len(x)))
}

// frequencies returns the sorted distinct values of x and their relative
// frequencies.
func frequencies(x []float64) ([]float64, []float64) {
	s := slices.Clone(x)
	sort.Float64s(s)
	var vals, fr []float64
	for _, v := range s {
		if len(vals) > 0 && vals[len(vals)-1] == v {
			fr[len(fr)-1]++
			continue
		}
		vals = append(vals, v)
		fr = append(fr, 1)
	}
	for i := range fr {
		fr[i] /= float64(len(x))
	}
	return vals, fr
}

// percentile of sorted data with linear interpolation (numpy's default).
func percentile(sorted []float64, q float64) float64 {
	pos := q / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// pick draws an index with the given probabilities.
func pick(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	acc := 0.0
	for i, v := range p {
		acc += v
		if u < acc {
			return i
		}
	}
	return len(p) - 1
}

// truncNormal draws from a normal distribution with the given mean and
// standard deviation truncated to [lo, hi], by inverting the CDF.
func truncNormal(rng *rand.Rand, mean, std, lo, hi float64) float64 {
	if !(hi > lo) {
		return lo
	}
	a, b := (lo-mean)/std, (hi-mean)/std
	flip := a > 0 // work in the lower tail, where the CDF is accurate
	if flip {
		a, b = -b, -a
	}
	cdf := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	pa, pb := cdf(a), cdf(b)
	var z float64
	if pb-pa > 1e-300 {
		u := pa + rng.Float64()*(pb-pa)
		z = -math.Sqrt2 * math.Erfcinv(2*u)
	} else {
		z = a + rng.Float64()*(b-a)
	}
	if math.IsNaN(z) || math.IsInf(z, 0) {
		z = a + rng.Float64()*(b-a)
		if math.IsNaN(z) || math.IsInf(z, 0) {
			z = 0
		}
	}
	z = min(b, max(a, z))
	if flip {
		z = -z
	}
	return min(hi, max(lo, mean+std*z))
}

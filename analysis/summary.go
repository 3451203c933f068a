package analysis

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/stats"
)

// Verdict statuses.
const (
	Holds        = "holds"
	DoesNotHold  = "does not hold"
	Inconclusive = "inconclusive"
	// NotMeasured is the overall status of an observation no attack of the
	// analysis measures.
	NotMeasured = "not measured"
)

// Decision rules of the verdicts (see docs/analysis.md).
const (
	// Alpha is the significance level of the tests.
	Alpha = 0.05
	// MinGroup is the smallest group (attacked or resisted images) a
	// comparison needs before it can conclude anything.
	MinGroup = 10
	// MinGroupNull is the smallest group for concluding "no difference"
	// from a negligible, non-significant effect.
	MinGroupNull = 30
	// Negligible is the largest |rank-biserial r| called negligible
	// (NegligibleDZ for Cohen's d_z).
	Negligible   = 0.1
	NegligibleDZ = 0.2
	// The success rate of an iterative attack has levelled off at the first
	// step within max(PlateauAbs, PlateauRel*best) of its best rate.
	PlateauAbs = 0.005
	PlateauRel = 0.1
)

// Observations names the three observations of method.md §1 (the second
// split into its two claims).
var Observations = []struct{ ID, Claim string }{
	{"1", "incomplete attention makes images more vulnerable: attacked images have lower coverage of the object"},
	{"2a", "a successful attack moves the attention: the clean/adversarial IoU is lower when the attack succeeds"},
	{"2b", "a successful attack scatters the attention: the adversarial mask gains more connected pieces"},
	{"3", "further iterative steps keep shrinking the clean/adversarial IoU after the success rate levels off"},
}

// Interval is an estimate with a confidence interval (NaN when undefined).
type Interval struct {
	Est   Num     `json:"est"`
	Lo    Num     `json:"lo"`
	Hi    Num     `json:"hi"`
	Level float64 `json:"level,omitempty"`
}

func nanInterval() Interval {
	n := Num(math.NaN())
	return Interval{Est: n, Lo: n, Hi: n}
}

func fromCI(c stats.CI) Interval {
	return Interval{Est: Num(c.Estimate), Lo: Num(c.Lo), Hi: Num(c.Hi), Level: c.Level}
}

// Group describes one metric in one group of images.
type Group struct {
	N      int      `json:"n"`
	Mean   Interval `json:"mean"`
	Median Interval `json:"median"`
}

// Comparison compares a metric between attacked images (the attack
// succeeded) and resisted ones (it failed).
type Comparison struct {
	Metric string `json:"metric"`
	Label  string `json:"label"`
	// Expect is the direction the observation predicts for the attacked
	// group: "lower" or "higher" ("" for a descriptive metric).
	Expect   string `json:"expect,omitempty"`
	Attacked Group  `json:"attacked"`
	Resisted Group  `json:"resisted"`
	// DiffMean is mean(attacked) - mean(resisted) with a bootstrap CI.
	DiffMean Interval `json:"diff_mean"`
	// Mann-Whitney U test of attacked against resisted: U, its normal
	// statistic, the two-sided p-value, and the effect sizes (rank-biserial
	// r, positive when attacked images score higher; common-language
	// effect P(attacked > resisted)).
	U              Num    `json:"u"`
	Z              Num    `json:"z"`
	P              Num    `json:"p"`
	RankBiserial   Num    `json:"rank_biserial"`
	CommonLanguage Num    `json:"common_language"`
	Note           string `json:"note,omitempty"`
}

// Bin is the attack success rate among images whose completeness lies in
// [Lo, Hi].
type Bin struct {
	Lo        float64  `json:"lo"`
	Hi        float64  `json:"hi"`
	MeanX     Num      `json:"mean_x"`
	Count     int      `json:"count"`
	Successes int      `json:"successes"`
	Rate      Interval `json:"rate"` // Wilson interval
}

// LogisticFit is the logistic regression of attack success on
// completeness: P(success) = 1/(1+exp(-(Intercept + Slope*coverage))).
type LogisticFit struct {
	N         int `json:"n"`
	Intercept Num `json:"intercept"`
	Slope     Num `json:"slope"`
	SlopeSE   Num `json:"slope_se"`
	P         Num `json:"p"` // Wald p-value of the slope
	// OddsRatio10 is the factor by which the odds of success change when
	// coverage rises by 0.1.
	OddsRatio10 Num    `json:"odds_ratio_per_0.1"`
	LRP         Num    `json:"lr_p"`
	Separated   bool   `json:"separated"`
	Note        string `json:"note,omitempty"`
	// AdjSlope and AdjP are the coverage slope and its p-value when the
	// clean confidence (log-odds of the true class) enters the fit too:
	// does completeness predict success beyond how confident the model
	// already was?
	AdjSlope Num    `json:"adjusted_slope"`
	AdjP     Num    `json:"adjusted_p"`
	AdjNote  string `json:"adjusted_note,omitempty"`
	// ClassSlope and ClassP are the coverage slope and its p-value with
	// the true class as a factor (one indicator per class): does
	// completeness predict success within classes, or only because some
	// classes are both more completely attended and easier to attack?
	ClassSlope Num    `json:"class_adjusted_slope"`
	ClassP     Num    `json:"class_adjusted_p"`
	ClassNote  string `json:"class_adjusted_note,omitempty"`
}

// StepCurve is the per-step trace of an iterative attack, step 0 being the
// clean image: mean clean/adversarial IoU (bootstrap CI), success rate
// (Wilson CI) and mean probability of the true class.
type StepCurve struct {
	N       int        `json:"n"`
	Step    []int      `json:"step"`
	IoU     []Interval `json:"iou"`
	IoUTopK []Interval `json:"iou_topk"`
	Success []Interval `json:"success"`
	Conf    []Num      `json:"conf_true"`
	// Plateau is the first step whose success rate is within
	// max(PlateauAbs, PlateauRel*best) of the best rate over all steps;
	// IoUDrop the mean paired
	// decrease of IoU from the plateau to the last step.
	Plateau int      `json:"plateau"`
	IoUDrop Interval `json:"iou_drop_after_plateau"`
	// DZ is Cohen's d_z of the paired decrease and SignP the two-sided
	// sign-test p-value.
	DZ    Num `json:"dz"`
	SignP Num `json:"sign_p"`
}

// Verdict states whether an observation holds for one attack.
type Verdict struct {
	Observation string `json:"observation"`
	Attack      string `json:"attack"`
	Status      string `json:"status"`
	Strength    string `json:"strength,omitempty"`
	// Effect is the effect size named by EffectName; P its p-value.
	Effect     Num    `json:"effect"`
	EffectName string `json:"effect_name,omitempty"`
	P          Num    `json:"p"`
	Text       string `json:"text"`
}

// AttackSummary holds the statistics of one attack.
type AttackSummary struct {
	Key         string         `json:"key"`
	Name        string         `json:"name"`
	Settings    map[string]any `json:"settings"`
	N           int            `json:"n"` // analysed images
	Succeeded   int            `json:"succeeded"`
	SuccessRate Interval       `json:"success_rate"`
	// MeanConfTrue is the mean adversarial probability of the true class.
	MeanConfTrue Num `json:"mean_conf_true"`
	// Completeness is observation 1's comparison (coverage of the clean
	// mean-threshold mask); IoU observation 2a's; Components 2b's (change
	// in the number of pieces of the mask); Others the remaining metrics.
	Completeness *Comparison   `json:"completeness"`
	IoU          *Comparison   `json:"iou"`
	Components   *Comparison   `json:"components"`
	Others       []*Comparison `json:"others"`
	Bins         []Bin         `json:"bins,omitempty"`
	BinsNote     string        `json:"bins_note,omitempty"`
	Logistic     *LogisticFit  `json:"logistic,omitempty"`
	Steps        *StepCurve    `json:"steps,omitempty"`
	Verdicts     []Verdict     `json:"verdicts"`
}

// Overall is the verdict of one observation across attacks.
type Overall struct {
	Observation string `json:"observation"`
	Claim       string `json:"claim"`
	Status      string `json:"status"` // holds, does not hold, mixed, inconclusive, not measured
	Text        string `json:"text"`
}

// Summary is summary.json: the statistics of an analysis.
type Summary struct {
	Header   *Header          `json:"header"`
	Dir      string           `json:"dir,omitempty"`
	Images   int              `json:"images"`   // recorded images
	Analysed int              `json:"analysed"` // correctly classified
	CleanAcc Interval         `json:"clean_accuracy"`
	Attacks  []*AttackSummary `json:"attacks"`
	Overall  []Overall        `json:"overall"`
	// Complete is false when the analysis has not finished all images.
	Complete bool `json:"complete"`
}

// Load reads an analysis directory (header and records).
func Load(dir string) (*Header, []*Record, error) {
	h, err := ReadHeader(dir)
	if err != nil {
		return nil, nil, err
	}
	recs, _, err := ReadRecords(filepath.Join(dir, rundir.AnalysisRecords))
	if err != nil {
		return nil, nil, err
	}
	return h, recs, nil
}

// Summarize loads an analysis directory and computes its statistics.
func Summarize(dir string) (*Summary, error) {
	h, recs, err := Load(dir)
	if err != nil {
		return nil, err
	}
	s, err := Compute(h, recs)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	s.Dir = dir
	return s, nil
}

// Compute derives the statistics from a header and its records.
func Compute(h *Header, recs []*Record) (*Summary, error) {
	s := &Summary{Header: h, Images: len(recs)}
	seen := map[int]bool{}
	var analysed []*Record
	for _, r := range recs {
		if seen[r.Index] {
			return nil, fmt.Errorf("image %d recorded twice", r.Index)
		}
		seen[r.Index] = true
		if r.Analysed() {
			analysed = append(analysed, r)
		}
	}
	s.Analysed = len(analysed)
	s.Complete = len(recs) == h.Data.Images
	if len(recs) > 0 {
		if c, err := stats.Wilson(len(analysed), len(recs), 0.95); err == nil {
			s.CleanAcc = fromCI(c)
		}
	} else {
		s.CleanAcc = nanInterval()
	}
	boot := stats.Bootstrap{Resamples: 1000, Seed: h.Config.Seed + 17}
	// The attacks are independent (and each deterministic), so they are
	// summarised in parallel.
	s.Attacks = make([]*AttackSummary, len(h.Attacks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	for i, ai := range h.Attacks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			s.Attacks[i] = summarizeAttack(ai, analysed, boot)
			<-sem
		}()
	}
	wg.Wait()
	s.Overall = overall(s.Attacks)
	return s, nil
}

// metric extracts one value per record for an attack.
type metric struct {
	name, label, expect string
	median              bool
	get                 func(r *Record, a *AttackRecord) float64
}

var (
	mCoverage = metric{"coverage", "coverage of the object by the clean attention (mean threshold)", "lower", true,
		func(r *Record, _ *AttackRecord) float64 { return r.Clean.Coverage.F() }}
	mIoU = metric{"iou", "clean/adversarial attention IoU (mean threshold)", "lower", true,
		func(_ *Record, a *AttackRecord) float64 { return a.IoU.F() }}
	mComponents = metric{"components_change", "change in connected pieces of the attention mask (adv - clean)", "higher", false,
		func(r *Record, a *AttackRecord) float64 { return float64(a.Adv.Components - r.Clean.Components) }}
	others = []metric{
		{"coverage_area", "coverage of the object by the clean attention (area-matched)", "lower", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.CoverageArea.F() }},
		{"coverage_topk", "coverage of the object by the clean top-k attention", "lower", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.CoverageTopK.F() }},
		{"iou_truth", "IoU of the clean attention with the object", "lower", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.IoUTruth.F() }},
		{"clean_conf", "clean probability of the true class", "", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Conf.F() }},
		{"iou_topk", "clean/adversarial attention IoU (top-k)", "lower", false,
			func(_ *Record, a *AttackRecord) float64 { return a.IoUTopK.F() }},
		{"rank_corr", "Spearman correlation of clean and adversarial maps", "lower", false,
			func(_ *Record, a *AttackRecord) float64 { return a.RankCorr.F() }},
		{"centroid_shift", "shift of the attention centroid (pixels)", "higher", false,
			func(_ *Record, a *AttackRecord) float64 { return a.CentroidShift.F() }},
		{"adv_largest_share", "share of the adversarial mask in its largest piece", "lower", false,
			func(_ *Record, a *AttackRecord) float64 { return a.Adv.LargestShare.F() }},
		{"entropy_change", "change in normalised map entropy (adv - clean)", "higher", false,
			func(r *Record, a *AttackRecord) float64 { return a.Adv.Entropy.F() - r.Clean.Entropy.F() }},
		{"adv_coverage", "coverage of the object by the adversarial attention", "lower", false,
			func(_ *Record, a *AttackRecord) float64 { return a.Adv.Coverage.F() }},
	}
)

func summarizeAttack(ai AttackInfo, recs []*Record, boot stats.Bootstrap) *AttackSummary {
	as := &AttackSummary{Key: ai.Key, Name: ai.Name, Settings: ai.Settings}
	var rs []*Record
	var conf []float64
	for _, r := range recs {
		if a := r.Attacks[ai.Key]; a != nil {
			rs = append(rs, r)
			conf = append(conf, a.ConfTrue.F())
			if a.Success {
				as.Succeeded++
			}
		}
	}
	as.N = len(rs)
	as.SuccessRate = nanInterval()
	if as.N > 0 {
		c, _ := stats.Wilson(as.Succeeded, as.N, 0.95)
		as.SuccessRate = fromCI(c)
	}
	as.MeanConfTrue = Num(stats.Mean(conf))
	as.Completeness = compare(mCoverage, ai.Key, rs, boot)
	as.IoU = compare(mIoU, ai.Key, rs, boot)
	as.Components = compare(mComponents, ai.Key, rs, boot)
	for _, m := range others {
		as.Others = append(as.Others, compare(m, ai.Key, rs, boot))
	}
	// Success by completeness.
	var x, lo []float64
	var y []bool
	var class []int
	for _, r := range rs {
		if c := r.Clean.Coverage.F(); !math.IsNaN(c) {
			x = append(x, c)
			y = append(y, r.Attacks[ai.Key].Success)
			p := math.Min(math.Max(r.Conf.F(), 1e-6), 1-1e-6)
			lo = append(lo, math.Log(p/(1-p)))
			class = append(class, r.Label)
		}
	}
	if len(x) >= 2 {
		bins, err := stats.BinRates(x, y, 5, stats.EqualCount, 0.95)
		if err != nil {
			as.BinsNote = err.Error()
		}
		for _, b := range bins {
			as.Bins = append(as.Bins, Bin{Lo: b.Lo, Hi: b.Hi, MeanX: Num(b.MeanX), Count: b.Count, Successes: b.Successes,
				Rate: Interval{Est: Num(b.Rate), Lo: Num(b.RateLo), Hi: Num(b.RateHi), Level: 0.95}})
		}
		as.Logistic = logistic(x, lo, class, y)
	} else {
		as.BinsNote = "fewer than two images with ground truth"
	}
	if ai.Traced {
		as.Steps = stepCurve(ai.Key, rs, boot)
	}
	as.Verdicts = []Verdict{
		rankVerdict("1", as, as.Completeness),
		rankVerdict("2a", as, as.IoU),
		rankVerdict("2b", as, as.Components),
	}
	if as.Steps != nil {
		as.Verdicts = append(as.Verdicts, stepVerdict(as))
	}
	return as
}

// compare splits a metric by attack outcome and compares the groups.
func compare(m metric, key string, rs []*Record, boot stats.Bootstrap) *Comparison {
	c := &Comparison{Metric: m.name, Label: m.label, Expect: m.expect}
	var att, res []float64
	for _, r := range rs {
		a := r.Attacks[key]
		v := m.get(r, a)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if a.Success {
			att = append(att, v)
		} else {
			res = append(res, v)
		}
	}
	c.Attacked = group(att, boot, m.median)
	c.Resisted = group(res, boot, m.median)
	nan := Num(math.NaN())
	c.DiffMean, c.U, c.Z, c.P, c.RankBiserial, c.CommonLanguage = nanInterval(), nan, nan, nan, nan, nan
	if len(att) == 0 || len(res) == 0 {
		switch {
		case len(att)+len(res) == 0:
			c.Note = "no values (no ground truth?)"
		case len(att) == 0:
			c.Note = "the attack succeeded on no image"
		default:
			c.Note = "the attack succeeded on every image"
		}
		return c
	}
	if d, err := boot.Diff(att, res, stats.Mean); err == nil {
		c.DiffMean = fromCI(d)
	}
	mw, err := stats.MannWhitneyU(att, res)
	if err != nil {
		c.Note = err.Error()
		return c
	}
	c.U, c.Z, c.P = Num(mw.U), Num(mw.Z), Num(mw.P)
	c.RankBiserial, c.CommonLanguage = Num(mw.RankBiserial), Num(mw.CommonLanguage)
	return c
}

func group(x []float64, boot stats.Bootstrap, median bool) Group {
	g := Group{N: len(x), Mean: nanInterval(), Median: nanInterval()}
	if len(x) == 0 {
		return g
	}
	if c, err := boot.Mean(x); err == nil {
		g.Mean = fromCI(c)
	}
	if median {
		if c, err := boot.Median(x); err == nil {
			g.Median = fromCI(c)
		}
	} else {
		g.Median.Est = Num(stats.Median(x))
	}
	return g
}

func logistic(x, conf []float64, class []int, y []bool) *LogisticFit {
	nan := Num(math.NaN())
	f := &LogisticFit{N: len(x), Intercept: nan, Slope: nan, SlopeSE: nan, P: nan, OddsRatio10: nan, LRP: nan,
		AdjSlope: nan, AdjP: nan, ClassSlope: nan, ClassP: nan}
	if r, err := stats.Logistic(y, [][]float64{x, conf}, stats.LogisticOptions{}); err != nil {
		f.AdjNote = err.Error()
	} else {
		f.AdjSlope, f.AdjP = Num(r.Coef[1]), Num(r.P[1])
	}
	// Class indicators: one per class present, the most frequent class
	// being the reference; a class that holds every image adds nothing.
	counts := map[int]int{}
	for _, c := range class {
		counts[c]++
	}
	ref, keys := -1, make([]int, 0, len(counts))
	for c, n := range counts {
		keys = append(keys, c)
		if ref < 0 || n > counts[ref] || n == counts[ref] && c < ref {
			ref = c
		}
	}
	sort.Ints(keys)
	preds := [][]float64{x}
	for _, c := range keys {
		if c == ref {
			continue
		}
		d := make([]float64, len(class))
		for i, ci := range class {
			if ci == c {
				d[i] = 1
			}
		}
		preds = append(preds, d)
	}
	if r, err := stats.Logistic(y, preds, stats.LogisticOptions{}); err != nil {
		f.ClassNote = err.Error()
	} else {
		f.ClassSlope, f.ClassP = Num(r.Coef[1]), Num(r.P[1])
	}
	r, err := stats.Logistic(y, [][]float64{x}, stats.LogisticOptions{})
	if err != nil {
		f.Note = err.Error()
		return f
	}
	f.Intercept, f.Slope, f.SlopeSE, f.P = Num(r.Coef[0]), Num(r.Coef[1]), Num(r.StdErr[1]), Num(r.P[1])
	f.OddsRatio10 = Num(math.Exp(0.1 * r.Coef[1]))
	f.LRP, f.Separated = Num(r.LRP), r.Separated
	return f
}

// strength names the size of a rank-biserial correlation.
func strength(r float64) string {
	switch a := math.Abs(r); {
	case math.IsNaN(a):
		return ""
	case a < Negligible:
		return "negligible"
	case a < 0.3:
		return "small"
	case a < 0.5:
		return "medium"
	default:
		return "large"
	}
}

// rankVerdict decides an observation from a group comparison.
func rankVerdict(obs string, as *AttackSummary, c *Comparison) Verdict {
	v := Verdict{Observation: obs, Attack: as.Key, Status: Inconclusive, Effect: c.RankBiserial,
		EffectName: "rank-biserial r", P: c.P}
	na, nr := c.Attacked.N, c.Resisted.N
	counts := fmt.Sprintf("n = %d attacked, %d resisted", na, nr)
	if c.Note != "" && math.IsNaN(c.P.F()) {
		v.Text = fmt.Sprintf("cannot be tested: %s (%s).", c.Note, counts)
		return v
	}
	if na < MinGroup || nr < MinGroup {
		v.Text = fmt.Sprintf("too few images to tell: %s; each group needs at least %d.", counts, MinGroup)
		return v
	}
	r, p := c.RankBiserial.F(), c.P.F()
	v.Strength = strength(r)
	dir := r
	if c.Expect == "lower" {
		dir = -r
	}
	word := map[bool]string{true: "lower", false: "higher"}[r < 0]
	detail := fmt.Sprintf("%s is %s for attacked images (median %s vs %s, mean %s vs %s; r = %+.2f, %s effect; Mann-Whitney p = %s; %s)",
		c.Metric, word, f3(c.Attacked.Median.Est), f3(c.Resisted.Median.Est), f3(c.Attacked.Mean.Est), f3(c.Resisted.Mean.Est),
		r, v.Strength, FormatP(p), counts)
	switch {
	case p < Alpha && dir > 0 && math.Abs(r) >= Negligible:
		v.Status = Holds
		v.Text = "holds: " + detail + "."
	case p < Alpha && dir < 0 && math.Abs(r) >= Negligible:
		v.Status = DoesNotHold
		v.Text = "does not hold (the opposite is seen): " + detail + "."
	case math.Abs(r) < Negligible && (p < Alpha || min(na, nr) >= MinGroupNull):
		v.Status = DoesNotHold
		v.Text = "does not hold (the difference is negligible): " + detail + "."
	default:
		v.Text = "inconclusive: " + detail + "; not significant at " + FormatP(Alpha) + "."
	}
	return v
}

// stepCurve averages the per-step traces of an iterative attack.
func stepCurve(key string, rs []*Record, boot stats.Bootstrap) *StepCurve {
	steps := -1
	var tr []*AttackRecord
	for _, r := range rs {
		a := r.Attacks[key]
		if len(a.StepIoU) == 0 {
			continue
		}
		if steps < 0 {
			steps = len(a.StepIoU)
		}
		if len(a.StepIoU) != steps {
			continue
		}
		tr = append(tr, a)
	}
	if len(tr) == 0 {
		return nil
	}
	sc := &StepCurve{N: len(tr), Step: []int{0}, IoU: []Interval{{Est: 1, Lo: 1, Hi: 1}}, IoUTopK: []Interval{{Est: 1, Lo: 1, Hi: 1}},
		Success: []Interval{{Est: 0, Lo: 0, Hi: 0}}, Conf: []Num{Num(math.NaN())}}
	succ := make([]float64, steps+1)
	for k := 0; k < steps; k++ {
		var iou, top, conf []float64
		ns := 0
		for _, a := range tr {
			iou = append(iou, a.StepIoU[k].F())
			top = append(top, a.StepIoUTopK[k].F())
			conf = append(conf, a.StepConf[k].F())
			if a.StepSuccess[k] {
				ns++
			}
		}
		sc.Step = append(sc.Step, k+1)
		sc.IoU = append(sc.IoU, meanCI(iou, boot))
		sc.IoUTopK = append(sc.IoUTopK, meanCI(top, boot))
		w, _ := stats.Wilson(ns, len(tr), 0.95)
		sc.Success = append(sc.Success, fromCI(w))
		sc.Conf = append(sc.Conf, Num(stats.Mean(conf)))
		succ[k+1] = w.Estimate
	}
	top := 0.0
	for _, v := range succ {
		top = math.Max(top, v)
	}
	tol := math.Max(PlateauAbs, PlateauRel*top)
	sc.Plateau = steps
	for k := 1; k <= steps; k++ {
		if top-succ[k] <= tol {
			sc.Plateau = k
			break
		}
	}
	sc.IoUDrop, sc.DZ, sc.SignP = nanInterval(), Num(math.NaN()), Num(math.NaN())
	if sc.Plateau < steps {
		d := make([]float64, len(tr))
		pos, neg := 0, 0
		for i, a := range tr {
			d[i] = a.StepIoU[sc.Plateau-1].F() - a.StepIoU[steps-1].F()
			if d[i] > 0 {
				pos++
			} else if d[i] < 0 {
				neg++
			}
		}
		sc.IoUDrop = meanCI(d, boot)
		m, sd := stats.Mean(d), stats.StdDev(d)
		switch {
		case sd > 0:
			sc.DZ = Num(m / sd)
		case m == 0:
			sc.DZ = 0
		default:
			sc.DZ = Num(math.Copysign(math.Inf(1), m))
		}
		sc.SignP = Num(signTest(pos, neg))
	}
	return sc
}

func meanCI(x []float64, boot stats.Bootstrap) Interval {
	var ok []float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ok = append(ok, v)
		}
	}
	if c, err := boot.Mean(ok); err == nil {
		return fromCI(c)
	}
	return nanInterval()
}

// signTest is the two-sided exact sign test of pos positive and neg
// negative differences.
func signTest(pos, neg int) float64 {
	n := pos + neg
	if n == 0 {
		return 1
	}
	k := min(pos, neg)
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	sum := 0.0
	for i := 0; i <= k; i++ {
		sum += math.Exp(lg(n) - lg(i) - lg(n-i) - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*sum)
}

// dzStrength names Cohen's d_z.
func dzStrength(d float64) string {
	switch a := math.Abs(d); {
	case math.IsNaN(a):
		return ""
	case a < NegligibleDZ:
		return "negligible"
	case a < 0.5:
		return "small"
	case a < 0.8:
		return "medium"
	default:
		return "large"
	}
}

// stepVerdict decides observation 3.
func stepVerdict(as *AttackSummary) Verdict {
	sc := as.Steps
	steps := len(sc.Step) - 1
	v := Verdict{Observation: "3", Attack: as.Key, Status: Inconclusive, Effect: sc.DZ, EffectName: "Cohen's d_z", P: sc.SignP}
	final := sc.Success[steps].Est.F()
	switch {
	case steps < 2:
		v.Text = fmt.Sprintf("needs at least 2 steps (have %d).", steps)
		return v
	case sc.N < MinGroup:
		v.Text = fmt.Sprintf("too few images to tell (n = %d).", sc.N)
		return v
	case final == 0:
		v.Text = fmt.Sprintf("the attack never succeeded in %d steps (n = %d).", steps, sc.N)
		return v
	case sc.Plateau >= steps:
		v.Text = fmt.Sprintf("the success rate was still rising at the last step (%s at step %d, %s at step %d); more steps are needed (n = %d).",
			pct(sc.Success[steps-1].Est.F()), steps-1, pct(final), steps, sc.N)
		return v
	}
	best := sc.Success[sc.Plateau].Est.F()
	for _, s := range sc.Success {
		best = math.Max(best, s.Est.F())
	}
	drop := sc.IoUDrop
	d := sc.DZ.F()
	v.Strength = dzStrength(d)
	detail := fmt.Sprintf("the success rate levels off at step %d (%s; best %s, %s after step %d) while the mean IoU goes from %s at step %d to %s at step %d (drop %s, 95%% CI [%s, %s]; d_z = %.2f, %s; sign test p = %s; n = %d)",
		sc.Plateau, pct(sc.Success[sc.Plateau].Est.F()), pct(best), pct(final), steps, f3(sc.IoU[sc.Plateau].Est), sc.Plateau,
		f3(sc.IoU[steps].Est), steps, f3(drop.Est), f3(drop.Lo), f3(drop.Hi), d, v.Strength, FormatP(sc.SignP.F()), sc.N)
	switch {
	case drop.Lo.F() > 0 && sc.SignP.F() < Alpha && math.Abs(d) >= NegligibleDZ:
		v.Status = Holds
		v.Text = "holds: " + detail + "."
	case drop.Hi.F() < 0 && sc.SignP.F() < Alpha && math.Abs(d) >= NegligibleDZ:
		v.Status = DoesNotHold
		v.Text = "does not hold (the IoU recovers): " + detail + "."
	case math.Abs(d) < NegligibleDZ && (sc.SignP.F() < Alpha || sc.N >= MinGroupNull):
		v.Status = DoesNotHold
		v.Text = "does not hold (the IoU stops shrinking too): " + detail + "."
	default:
		v.Text = "inconclusive: " + detail + "."
	}
	return v
}

// overall combines the attacks' verdicts per observation.
func overall(as []*AttackSummary) []Overall {
	var out []Overall
	for _, o := range Observations {
		by := map[string][]string{}
		for _, a := range as {
			for _, v := range a.Verdicts {
				if v.Observation == o.ID {
					s := a.Key
					if v.Strength != "" && v.Status != Inconclusive {
						s += " (" + v.Strength + ")"
					}
					by[v.Status] = append(by[v.Status], s)
				}
			}
		}
		ov := Overall{Observation: o.ID, Claim: o.Claim}
		nh, nn, ni := len(by[Holds]), len(by[DoesNotHold]), len(by[Inconclusive])
		switch {
		case nh+nn+ni == 0:
			ov.Status = NotMeasured
			ov.Text = "no attack of this analysis measures it (observation 3 needs iter-ll, bim or gated-step-ll)"
			out = append(out, ov)
			continue
		case nh > 0 && nn == 0:
			ov.Status = Holds
		case nn > 0 && nh == 0:
			ov.Status = DoesNotHold
		case nh > 0 && nn > 0:
			ov.Status = "mixed"
		default:
			ov.Status = Inconclusive
		}
		var parts []string
		for _, st := range []string{Holds, DoesNotHold, Inconclusive} {
			if l := by[st]; len(l) > 0 {
				parts = append(parts, st+" for "+strings.Join(l, ", "))
			}
		}
		ov.Text = strings.Join(parts, "; ")
		out = append(out, ov)
	}
	return out
}

// f3 formats a number with 3 significant digits ("n/a" for NaN).
func f3(n Num) string {
	if math.IsNaN(n.F()) || math.IsInf(n.F(), 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.3g", n.F())
}

// FormatP formats a p-value as the summaries and the report print it:
// three significant digits, scientific below 1e-4, "<1e-300" at the floor
// of float64, "n/a" for NaN.
func FormatP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 1e-300:
		return "<1e-300"
	case p < 1e-4:
		return fmt.Sprintf("%.1e", p)
	default:
		return fmt.Sprintf("%.3g", p)
	}
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

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
	// NotTested is the status of a comparison the attack decides by
	// construction (the attention-gated attack stops an image when its IoU
	// falls below the threshold, so success and IoU are linked by design).
	NotTested = "not tested"
)

// Decision rules of the verdicts (see docs/analysis.md).
const (
	// Alpha is the significance level of the tests, family-wise over the
	// attacks of an observation (Holm).
	Alpha = 0.05
	// MinGroup is the smallest group (attacked or resisted images) a
	// comparison needs before it can conclude anything.
	MinGroup = 10
	// Negligible is the equivalence margin of the rank-biserial r: an
	// effect is negligible when the equivalence test (two one-sided tests,
	// the 90% interval of r inside (-Negligible, Negligible)) rejects
	// |r| >= Negligible; NegligibleDZ is the margin of Cohen's d_z.
	Negligible   = 0.1
	NegligibleDZ = 0.2
	// LinfTolerance: the attacked and resisted images of a comparison of
	// observation 2 count as equally perturbed when the 95% interval of
	// the difference of their mean L-inf sizes lies within
	// ±LinfTolerance*eps.
	LinfTolerance = 0.02
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
	U              Num `json:"u"`
	Z              Num `json:"z"`
	P              Num `json:"p"`
	RankBiserial   Num `json:"rank_biserial"`
	CommonLanguage Num `json:"common_language"`
	// RankBiserialCI is the 90% interval of r (DeLong's variance) and
	// PEquivalence the p-value of the equivalence test of |r| <
	// Negligible (two one-sided tests; < 0.05 exactly when the interval
	// lies inside the margin), before the correction over attacks.
	RankBiserialCI Interval `json:"rank_biserial_ci90"`
	PEquivalence   Num      `json:"p_equivalence"`
	// Step is the step of the per-step trace the groups were taken at
	// (iterative attacks, observation 2): every image had taken the same
	// steps there, success and values are those of that iterate. 0: the
	// image the attack returned.
	Step int `json:"step,omitempty"`
	// Linf compares the perturbation sizes of the two groups (observation
	// 2 only).
	Linf *LinfCheck `json:"linf,omitempty"`
	Note string     `json:"note,omitempty"`
}

// LinfCheck compares the L-inf perturbation sizes of the attacked and
// resisted images of a comparison: a group with smaller perturbations has
// a higher clean/adversarial IoU for that reason alone, so observation 2
// is only decided when the sizes are equal within Margin.
type LinfCheck struct {
	Attacked Group    `json:"attacked"`
	Resisted Group    `json:"resisted"`
	Diff     Interval `json:"diff_mean"`
	Margin   float64  `json:"margin"`
	Equal    bool     `json:"equal"`
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
	// DZ is Cohen's d_z of the paired decrease with its 90% interval
	// (normal approximation, SE = sqrt(1/n + d_z^2/(2n))), SignP the
	// two-sided sign-test p-value and PEquivalence that of the
	// equivalence test of |d_z| < NegligibleDZ.
	DZ           Num      `json:"dz"`
	DZCI         Interval `json:"dz_ci90"`
	SignP        Num      `json:"sign_p"`
	PEquivalence Num      `json:"p_equivalence"`
}

// Verdict states whether an observation holds for one attack.
type Verdict struct {
	Observation string `json:"observation"`
	Attack      string `json:"attack"`
	Status      string `json:"status"`
	Strength    string `json:"strength,omitempty"`
	// Effect is the effect size named by EffectName with its 90%
	// interval; P the p-value of the difference test.
	Effect     Num      `json:"effect"`
	EffectCI   Interval `json:"effect_ci90"`
	EffectName string   `json:"effect_name,omitempty"`
	P          Num      `json:"p"`
	// PHolm and PEquivalenceHolm are the p-values of the difference and
	// the equivalence tests after Holm's correction over the Family
	// attacks of the analysis that test this observation; the verdict is
	// taken from them.
	PHolm            Num    `json:"p_holm"`
	PEquivalenceHolm Num    `json:"p_equivalence_holm"`
	Family           int    `json:"family,omitempty"`
	Text             string `json:"text"`
	// tested marks a verdict that takes part in the correction.
	tested bool
	pEquiv float64
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
	// Completeness is observation 1's comparison (coverage of the object
	// by the clean area-matched mask, whose area is the object's, so that
	// coverage does not grow with the mask's area); IoU observation 2a's;
	// Components 2b's (change in the number of pieces of the mask), both
	// at the last step of the trace for the traced iterative attacks;
	// Others the remaining metrics, on the images the attack returned.
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
	Header   *Header  `json:"header"`
	Dir      string   `json:"dir,omitempty"`
	Images   int      `json:"images"`   // recorded images
	Analysed int      `json:"analysed"` // correctly classified
	CleanAcc Interval `json:"clean_accuracy"`
	// Attention describes the clean attention of the analysed images:
	// how much of each object its masks cover, next to the masks' areas.
	Attention *AttentionSummary `json:"attention,omitempty"`
	Attacks   []*AttackSummary  `json:"attacks"`
	Overall   []Overall         `json:"overall"`
	// Complete is false when the analysis has not finished all images.
	Complete bool `json:"complete"`
}

// AttentionSummary describes the clean attention of the analysed images
// against their objects. Coverage |A ∩ G|/|G| grows with the area of the
// mask A alone, so every coverage comes with the area of its mask: the
// mean-threshold mask's area varies from image to image and model to
// model, the area-matched mask's is the object's own (|G| pixels), the
// top-k mask's is fixed. Completeness is compared between models on the
// area-matched coverage. Areas are shares of the image.
type AttentionSummary struct {
	N            int   `json:"n"` // analysed images with ground truth
	ObjectArea   Group `json:"object_area"`
	MeanArea     Group `json:"mean_mask_area"`
	Coverage     Group `json:"coverage_mean_mask"`
	CoverageArea Group `json:"coverage_area_matched"`
	// TopKArea is the top-k mask's area before upsampling: TopK of the
	// map's cells (NaN for LIME, whose superpixels vary in size).
	TopKArea     Num   `json:"topk_area"`
	CoverageTopK Group `json:"coverage_topk"`
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
	if sh := h.Shard; sh != nil {
		return nil, fmt.Errorf("this directory holds only shard %s of a study (batches %d-%d); combine all shards with arp merge first", sh.Spec, sh.Lo, sh.Hi-1)
	}
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
	s.Attention = attentionSummary(h, analysed, boot)
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
			s.Attacks[i] = summarizeAttack(ai, h.Config.Eps, analysed, boot)
			<-sem
		}()
	}
	wg.Wait()
	decide(s.Attacks)
	s.Overall = overall(s.Attacks)
	return s, nil
}

// attentionSummary describes the clean masks of the images with ground
// truth (nil when there are none).
func attentionSummary(h *Header, recs []*Record, boot stats.Bootstrap) *AttentionSummary {
	var obj, area, cov, covArea, covTop []float64
	for _, r := range recs {
		c := r.Clean
		if math.IsNaN(c.Coverage.F()) {
			continue
		}
		if r.TruthArea > 0 {
			obj = append(obj, r.TruthArea.F())
		}
		area = append(area, c.Area.F())
		cov = append(cov, c.Coverage.F())
		covArea = append(covArea, c.CoverageArea.F())
		covTop = append(covTop, c.CoverageTopK.F())
	}
	if len(cov) == 0 {
		return nil
	}
	a := &AttentionSummary{N: len(cov), ObjectArea: group(obj, boot, true), MeanArea: group(area, boot, true),
		Coverage: group(cov, boot, true), CoverageArea: group(covArea, boot, true), CoverageTopK: group(covTop, boot, true),
		TopKArea: Num(math.NaN())}
	if !h.Lime() {
		a.TopKArea = Num(float64(h.TopK) / float64(h.MapH*h.MapW))
	}
	return a
}

// metric extracts one value per record for an attack.
type metric struct {
	name, label, expect string
	median              bool
	get                 func(r *Record, a *AttackRecord) float64
}

var (
	mCoverage = metric{"coverage_area", "coverage of the object by the clean attention (area-matched mask: the object's area)", "lower", true,
		func(r *Record, _ *AttackRecord) float64 { return r.Clean.CoverageArea.F() }}
	mIoU = metric{"iou", "clean/adversarial attention IoU (mean threshold)", "lower", true,
		func(_ *Record, a *AttackRecord) float64 { return a.IoU.F() }}
	mComponents = metric{"components_change", "change in connected pieces of the attention mask (adv - clean)", "higher", false,
		func(r *Record, a *AttackRecord) float64 { return float64(a.Adv.Components - r.Clean.Components) }}
	others = []metric{
		{"coverage", "coverage of the object by the clean attention (mean threshold; grows with the mask's area)", "lower", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.Coverage.F() }},
		{"area", "area of the clean mean-threshold mask (share of the image)", "", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.Area.F() }},
		{"coverage_topk", "coverage of the object by the clean top-k attention", "lower", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.CoverageTopK.F() }},
		{"iou_truth", "IoU of the clean attention with the object", "lower", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Clean.IoUTruth.F() }},
		{"clean_conf", "clean probability of the true class", "", false,
			func(r *Record, _ *AttackRecord) float64 { return r.Conf.F() }},
		{"linf", "L-inf size of the perturbation the attack returned", "", false,
			func(_ *Record, a *AttackRecord) float64 { return a.Linf.F() }},
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

// outcome splits images into attacked and resisted: by the attack's own
// success, or at one step of the per-step trace.
type outcome struct {
	step    int // 0: the image the attack returned
	success func(a *AttackRecord) bool
}

func returned() outcome { return outcome{success: func(a *AttackRecord) bool { return a.Success }} }

func atStep(k int) outcome {
	return outcome{step: k, success: func(a *AttackRecord) bool { return a.StepSuccess[k-1] }}
}

func summarizeAttack(ai AttackInfo, eps float64, recs []*Record, boot stats.Bootstrap) *AttackSummary {
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
	as.Completeness = compare(mCoverage, ai.Key, rs, boot, returned())
	// Observation 2 compares like with like: the images an iterative
	// attack breaks stop at their first successful iterate and carry
	// smaller perturbations than the ones it resists, which by that alone
	// keep more of their attention. Traced attacks are compared at the
	// last step of their trace, where every image has taken every step.
	o2 := returned()
	if ai.Traced {
		if k, ok := traceSteps(ai.Key, rs); ok {
			o2 = atStep(k)
		}
	}
	as.IoU = compare(o2.metric(mIoU), ai.Key, rs, boot, o2)
	as.Components = compare(o2.metric(mComponents), ai.Key, rs, boot, o2)
	for _, c := range []*Comparison{as.IoU, as.Components} {
		c.Linf = linfCheck(ai.Key, rs, boot, o2, eps)
	}
	for _, m := range others {
		as.Others = append(as.Others, compare(m, ai.Key, rs, boot, returned()))
	}
	// Success by completeness.
	var x, lo []float64
	var y []bool
	var class []int
	for _, r := range rs {
		if c := mCoverage.get(r, nil); !math.IsNaN(c) {
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
	if as.Name == "gated-step-ll" {
		// The gate stops an image once its IoU falls below the threshold:
		// its success and IoU (and the mask's pieces) are linked by design.
		for i := 1; i <= 2; i++ {
			v := &as.Verdicts[i]
			v.Status, v.Strength, v.tested = NotTested, "", false
			v.Text = "not tested: the attention-gated attack stops each image once its clean/adversarial IoU falls below its threshold, so its success and the attention's change are linked by construction."
		}
	}
	if as.Steps != nil {
		as.Verdicts = append(as.Verdicts, stepVerdict(as))
	}
	return as
}

// metric returns m measured at the outcome's step.
func (o outcome) metric(m metric) metric {
	if o.step == 0 {
		return m
	}
	k := o.step - 1
	switch m.name {
	case mIoU.name:
		m.get = func(_ *Record, a *AttackRecord) float64 { return a.StepIoU[k].F() }
	case mComponents.name:
		m.get = func(r *Record, a *AttackRecord) float64 { return float64(a.StepComponents[k] - r.Clean.Components) }
	default:
		panic("analysis: no per-step value of " + m.name)
	}
	m.label += fmt.Sprintf(", after step %d of the trace", o.step)
	return m
}

// traceSteps returns the number of steps of the attack's per-step traces
// when every record carries the whole trace (with pieces and sizes).
func traceSteps(key string, rs []*Record) (int, bool) {
	k := -1
	for _, r := range rs {
		a := r.Attacks[key]
		n := len(a.StepIoU)
		if n == 0 || len(a.StepComponents) != n || len(a.StepLinf) != n || k >= 0 && n != k {
			return 0, false
		}
		k = n
	}
	return k, k > 0
}

// compare splits a metric by attack outcome and compares the groups.
func compare(m metric, key string, rs []*Record, boot stats.Bootstrap, o outcome) *Comparison {
	c := &Comparison{Metric: m.name, Label: m.label, Expect: m.expect, Step: o.step}
	var att, res []float64
	for _, r := range rs {
		a := r.Attacks[key]
		v := m.get(r, a)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if o.success(a) {
			att = append(att, v)
		} else {
			res = append(res, v)
		}
	}
	c.Attacked = group(att, boot, m.median)
	c.Resisted = group(res, boot, m.median)
	nan := Num(math.NaN())
	c.DiffMean, c.U, c.Z, c.P, c.RankBiserial, c.CommonLanguage = nanInterval(), nan, nan, nan, nan, nan
	c.RankBiserialCI, c.PEquivalence = nanInterval(), nan
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
	c.rankTests(att, res)
	return c
}

// rankTests fills in the Mann-Whitney test, the rank-biserial r with its
// interval and the equivalence test of attacked against resisted values.
func (c *Comparison) rankTests(att, res []float64) {
	mw, err := stats.MannWhitneyU(att, res)
	if err != nil {
		c.Note = err.Error()
		return
	}
	c.U, c.Z, c.P = Num(mw.U), Num(mw.Z), Num(mw.P)
	c.RankBiserial, c.CommonLanguage = Num(mw.RankBiserial), Num(mw.CommonLanguage)
	if ci, se, err := stats.RankBiserialCI(att, res, 0.9); err == nil {
		c.RankBiserialCI = fromCI(ci)
		c.PEquivalence = Num(stats.EquivalenceP(ci.Estimate, se, Negligible))
	}
}

// linfCheck compares the perturbation sizes of the attacked and resisted
// images (at the outcome's step).
func linfCheck(key string, rs []*Record, boot stats.Bootstrap, o outcome, eps float64) *LinfCheck {
	get := func(a *AttackRecord) float64 { return a.Linf.F() }
	if o.step > 0 {
		get = func(a *AttackRecord) float64 { return a.StepLinf[o.step-1].F() }
	}
	var att, res []float64
	for _, r := range rs {
		a := r.Attacks[key]
		if v := get(a); !math.IsNaN(v) {
			if o.success(a) {
				att = append(att, v)
			} else {
				res = append(res, v)
			}
		}
	}
	l := &LinfCheck{Attacked: group(att, boot, false), Resisted: group(res, boot, false), Diff: nanInterval(), Margin: LinfTolerance * eps}
	if len(att) == 0 || len(res) == 0 {
		return l
	}
	if d, err := boot.Diff(att, res, stats.Mean); err == nil {
		l.Diff = fromCI(d)
		l.Equal = d.Lo >= -l.Margin && d.Hi <= l.Margin
	}
	return l
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

// rankVerdict prepares the verdict of an observation from a group
// comparison: it is either settled here (too few images, unequal
// perturbations: inconclusive) or marked tested and decided by decide,
// which corrects its p-values over the attacks of the observation.
func rankVerdict(obs string, as *AttackSummary, c *Comparison) Verdict {
	nan := Num(math.NaN())
	v := Verdict{Observation: obs, Attack: as.Key, Status: Inconclusive, Effect: c.RankBiserial, EffectCI: c.RankBiserialCI,
		EffectName: "rank-biserial r", P: c.P, PHolm: nan, PEquivalenceHolm: nan}
	na, nr := c.Attacked.N, c.Resisted.N
	counts := fmt.Sprintf("n = %d attacked, %d resisted", na, nr)
	if c.Step > 0 {
		counts += fmt.Sprintf(", after step %d", c.Step)
	}
	switch {
	case c.Note != "" && math.IsNaN(c.P.F()):
		v.Text = fmt.Sprintf("cannot be tested: %s (%s).", c.Note, counts)
	case na < MinGroup || nr < MinGroup:
		v.Text = fmt.Sprintf("too few images to tell: %s; each group needs at least %d.", counts, MinGroup)
	case c.Linf != nil && !c.Linf.Equal:
		l := c.Linf
		v.Text = fmt.Sprintf("inconclusive: the attacked and resisted images carry perturbations of different sizes (mean L-inf %s vs %s, difference %s, more than ±%.2g), which alone changes the attention; the groups are not comparable (%s).",
			f3(l.Attacked.Mean.Est), f3(l.Resisted.Mean.Est), ci(l.Diff), l.Margin, counts)
	default:
		v.tested, v.pEquiv = true, c.PEquivalence.F()
		v.Strength = strength(c.RankBiserial.F())
	}
	return v
}

// rankText is the sentence of a decided rank verdict.
func rankText(v *Verdict, c *Comparison) string {
	r := c.RankBiserial.F()
	word := map[bool]string{true: "lower", false: "higher"}[r < 0]
	counts := fmt.Sprintf("n = %d attacked, %d resisted", c.Attacked.N, c.Resisted.N)
	if c.Step > 0 {
		counts += fmt.Sprintf(", all after step %d of the trace", c.Step)
	}
	if c.Linf != nil {
		counts += fmt.Sprintf("; mean L-inf %s vs %s", f3(c.Linf.Attacked.Mean.Est), f3(c.Linf.Resisted.Mean.Est))
	}
	return fmt.Sprintf("%s is %s for attacked images (median %s vs %s, mean %s vs %s; r = %+.2f, 90%% CI [%+.2f, %+.2f], %s effect; Mann-Whitney p = %s, %s after Holm over %d attacks; equivalence p = %s; %s)",
		c.Metric, word, f3(c.Attacked.Median.Est), f3(c.Resisted.Median.Est), f3(c.Attacked.Mean.Est), f3(c.Resisted.Mean.Est),
		r, c.RankBiserialCI.Lo.F(), c.RankBiserialCI.Hi.F(), v.Strength, stats.FormatP(c.P.F()), stats.FormatP(v.PHolm.F()), v.Family,
		stats.FormatP(v.PEquivalenceHolm.F()), counts)
}

// decide settles the tested verdicts of every observation: Holm's
// correction over the attacks that test it, for the difference test and
// for the equivalence test, then the rule of docs/analysis.md.
func decide(as []*AttackSummary) {
	for _, o := range Observations {
		type ref struct {
			v *Verdict
			a *AttackSummary
		}
		var fam []ref
		for _, a := range as {
			for i := range a.Verdicts {
				if v := &a.Verdicts[i]; v.Observation == o.ID && v.tested {
					fam = append(fam, ref{v, a})
				}
			}
		}
		pd := make([]float64, len(fam))
		pe := make([]float64, len(fam))
		for i, f := range fam {
			pd[i], pe[i] = f.v.P.F(), f.v.pEquiv
		}
		hd, he := stats.Holm(pd), stats.Holm(pe)
		for i, f := range fam {
			v := f.v
			v.PHolm, v.PEquivalenceHolm, v.Family = Num(hd[i]), Num(he[i]), len(fam)
			if o.ID == "3" {
				decideSteps(v, f.a)
				continue
			}
			c := map[string]*Comparison{"1": f.a.Completeness, "2a": f.a.IoU, "2b": f.a.Components}[o.ID]
			decideRank(v, c)
		}
	}
}

// decideRank applies the rule to a rank verdict with corrected p-values.
func decideRank(v *Verdict, c *Comparison) {
	r := c.RankBiserial.F()
	dir := r
	if c.Expect == "lower" {
		dir = -r
	}
	detail := rankText(v, c)
	big := math.Abs(r) >= Negligible
	switch {
	case v.PEquivalenceHolm.F() < Alpha:
		v.Status = DoesNotHold
		v.Text = "does not hold (the difference is negligible: r's interval lies inside ±" + fmt.Sprint(Negligible) + "): " + detail + "."
	case v.PHolm.F() < Alpha && dir > 0 && big:
		v.Status = Holds
		v.Text = "holds: " + detail + "."
	case v.PHolm.F() < Alpha && dir < 0 && big:
		v.Status = DoesNotHold
		v.Text = "does not hold (the opposite is seen): " + detail + "."
	default:
		v.Status = Inconclusive
		v.Text = "inconclusive (neither a non-negligible difference nor equivalence is shown): " + detail + "."
	}
	if v.Status == Inconclusive {
		v.Strength = ""
	}
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
	nan := Num(math.NaN())
	sc.IoUDrop, sc.DZ, sc.DZCI, sc.SignP, sc.PEquivalence = nanInterval(), nan, nanInterval(), nan, nan
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
		n := float64(len(d))
		dz := sc.DZ.F()
		se := math.Sqrt(1/n + dz*dz/(2*n))
		if !math.IsInf(dz, 0) {
			sc.DZCI = Interval{Est: sc.DZ, Lo: Num(dz - 1.6448536269514722*se), Hi: Num(dz + 1.6448536269514722*se), Level: 0.9}
			sc.PEquivalence = Num(stats.EquivalenceP(dz, se, NegligibleDZ))
		} else {
			sc.PEquivalence = 1
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

// stepVerdict prepares observation 3's verdict (decided by decideSteps).
func stepVerdict(as *AttackSummary) Verdict {
	sc := as.Steps
	steps := len(sc.Step) - 1
	nan := Num(math.NaN())
	v := Verdict{Observation: "3", Attack: as.Key, Status: Inconclusive, Effect: sc.DZ, EffectCI: sc.DZCI, EffectName: "Cohen's d_z",
		P: sc.SignP, PHolm: nan, PEquivalenceHolm: nan}
	final := sc.Success[steps].Est.F()
	switch {
	case steps < 2:
		v.Text = fmt.Sprintf("needs at least 2 steps (have %d).", steps)
	case sc.N < MinGroup:
		v.Text = fmt.Sprintf("too few images to tell (n = %d).", sc.N)
	case final == 0:
		v.Text = fmt.Sprintf("the attack never succeeded in %d steps (n = %d).", steps, sc.N)
	case sc.Plateau >= steps:
		v.Text = fmt.Sprintf("the success rate was still rising at the last step (%s at step %d, %s at step %d); more steps are needed (n = %d).",
			pct(sc.Success[steps-1].Est.F()), steps-1, pct(final), steps, sc.N)
	default:
		v.tested, v.pEquiv = true, sc.PEquivalence.F()
		v.Strength = dzStrength(sc.DZ.F())
	}
	return v
}

// decideSteps applies the rule to observation 3's verdict.
func decideSteps(v *Verdict, as *AttackSummary) {
	sc := as.Steps
	steps := len(sc.Step) - 1
	final := sc.Success[steps].Est.F()
	best := sc.Success[sc.Plateau].Est.F()
	for _, s := range sc.Success {
		best = math.Max(best, s.Est.F())
	}
	drop := sc.IoUDrop
	d := sc.DZ.F()
	detail := fmt.Sprintf("the success rate levels off at step %d (%s; best %s, %s after step %d) while the mean IoU goes from %s at step %d to %s at step %d (drop %s, 95%% CI [%s, %s]; d_z = %.2f, 90%% CI [%.2f, %.2f], %s; sign test p = %s, %s after Holm over %d attacks; equivalence p = %s; n = %d)",
		sc.Plateau, pct(sc.Success[sc.Plateau].Est.F()), pct(best), pct(final), steps, f3(sc.IoU[sc.Plateau].Est), sc.Plateau,
		f3(sc.IoU[steps].Est), steps, f3(drop.Est), f3(drop.Lo), f3(drop.Hi), d, sc.DZCI.Lo.F(), sc.DZCI.Hi.F(), v.Strength,
		stats.FormatP(sc.SignP.F()), stats.FormatP(v.PHolm.F()), v.Family, stats.FormatP(v.PEquivalenceHolm.F()), sc.N)
	big := math.Abs(d) >= NegligibleDZ
	switch {
	case v.PEquivalenceHolm.F() < Alpha:
		v.Status = DoesNotHold
		v.Text = "does not hold (the IoU stops shrinking too: d_z's interval lies inside ±" + fmt.Sprint(NegligibleDZ) + "): " + detail + "."
	case drop.Lo.F() > 0 && v.PHolm.F() < Alpha && big:
		v.Status = Holds
		v.Text = "holds: " + detail + "."
	case drop.Hi.F() < 0 && v.PHolm.F() < Alpha && big:
		v.Status = DoesNotHold
		v.Text = "does not hold (the IoU recovers): " + detail + "."
	default:
		v.Status, v.Strength = Inconclusive, ""
		v.Text = "inconclusive: " + detail + "."
	}
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
			if l := by[NotTested]; len(l) > 0 {
				ov.Text = "not tested for " + strings.Join(l, ", ") + " (success and attention linked by construction)"
			}
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
		for _, st := range []string{Holds, DoesNotHold, Inconclusive, NotTested} {
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

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

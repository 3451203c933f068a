package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// ParseAttacks parses attack specifications ("pgd", "pgd:steps=100:restarts=5";
// see attack.ParseSpec). The runner sets each attack's Eps and derives its
// seed.
func ParseAttacks(specs []string) ([]attack.Spec, error) {
	var out []attack.Spec
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		sp, err := attack.ParseSpec(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no attacks given; known: %s", strings.Join(attack.Names(), ", "))
	}
	return out, nil
}

// Progress reports how far an evaluation is, in units (one attack at one
// budget on one batch).
type Progress struct {
	Done, Total int
	Phase       string // "main", "subset" or "unbounded"
	Attack      string
	Norm        string
	Eps         float64
}

// Options configure Run.
type Options struct {
	Attacks []attack.Spec
	// Eps are the budgets of the L-inf attacks and EpsL2 those of the L2
	// attacks (pgd-l2, cw-l2), all on the [0,1] pixel scale.
	Eps   []float64
	EpsL2 []float64
	// Standalone runs every attack on every correctly classified image;
	// the default (cascade) attacks only the images every earlier attack
	// failed on.
	Standalone bool
	BatchSize  int // default 100
	Seed       uint64
	// State is the path of the resumable state file ("" for none).
	State string
	// Model and Data name the model and the dataset in the report and
	// the state file; DataImages and Limit say how the evaluated images
	// were chosen (the first Limit of DataImages).
	Model, Data       string
	DataImages, Limit int
	// CheckImages is the size of the sanity-check subset (the first
	// correctly classified images): the unbounded attack, and in cascade
	// mode the standalone runs that compare attacks, use it. Default 100;
	// negative: skip those checks.
	CheckImages int
	// UnboundedSteps is the number of steps of the unbounded PGD (eps 1);
	// default 20.
	UnboundedSteps int
	// AttentionTrained says the model was trained with attention losses,
	// so the adaptive attention-loss attack is required.
	AttentionTrained bool
	Progress         func(Progress)
}

// Tolerances and thresholds of the sanity checks.
const (
	// MaxZeroGradFraction is the largest fraction of images with a zero or
	// non-finite input gradient that passes.
	MaxZeroGradFraction = 0.05
	// MaxUnboundedAccuracy is the largest accuracy under the unbounded
	// attack that passes as "about 0".
	MaxUnboundedAccuracy = 0.01
	budgetTol            = 1e-5
)

// runner holds an evaluation in progress.
type runner struct {
	ctx     context.Context
	m       nn.Classifier
	x       *tensor.Tensor
	y       []int
	opt     Options
	n, per  int
	st      *state
	done    int
	total   int
	resumed int
}

// Run evaluates the robustness of m on images x ([N,C,H,W], pixels in
// [0,1]) with labels y: clean accuracy, every attack at every budget, the
// per-image worst case and the sanity checks of evaluation.md.
func Run(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, opt Options) (*Report, error) {
	start := time.Now()
	if err := validate(m, x, y, &opt); err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, m: m, x: x.AsType(tensor.Float32), y: y, opt: opt, n: x.Shape()[0]}
	r.per = r.x.Size() / r.n
	rep := &Report{Model: opt.Model, Data: opt.Data, Images: r.n, DataImages: opt.DataImages, Limit: opt.Limit,
		Mode: "cascade", Seed: opt.Seed, BatchSize: opt.BatchSize, Scale: inputScale(m), Started: start.UTC()}
	if opt.Standalone {
		rep.Mode = "standalone"
	}
	if rep.DataImages == 0 {
		rep.DataImages = r.n
	}
	// clean predictions
	pred, err := r.predict(r.x)
	if err != nil {
		return nil, err
	}
	correct := make([]bool, r.n)
	nc := 0
	for i, p := range pred {
		correct[i] = p == y[i]
		if correct[i] {
			nc++
		}
	}
	rep.Clean = counts(nc, r.n)
	threats := r.threats()
	subset := r.subset(correct)
	st, err := openState(opt.State, r.identity(pred, threats))
	if err != nil {
		return nil, err
	}
	defer st.close()
	r.st = st
	r.total = r.countUnits(threats, subset)

	// main phase
	for _, th := range threats {
		t := Threat{Norm: th.norm, Eps: th.eps, EpsInput: epsInput(rep.Scale, th.eps)}
		robust := append([]bool(nil), correct...)
		for _, k := range th.attacks {
			ar, err := r.runAttack("main", k, th, robust, correct, r.batches(allIndices(r.n)))
			if err != nil {
				return nil, err
			}
			t.Attacks = append(t.Attacks, *ar)
		}
		t.Worst = counts(countTrue(robust), r.n)
		rep.Threats = append(rep.Threats, t)
	}
	// sanity-check runs
	sub := &subsetResults{images: len(subset)}
	if len(subset) > 0 {
		mask := make([]bool, r.n)
		for _, i := range subset {
			mask[i] = true
		}
		if !opt.Standalone {
			for _, th := range threats {
				var accs []Counts
				for _, k := range th.attacks {
					robust := append([]bool(nil), mask...)
					ar, err := r.runAttack("subset", k, th, robust, mask, r.batches(subset))
					if err != nil {
						return nil, err
					}
					accs = append(accs, ar.Accuracy)
				}
				sub.standalone = append(sub.standalone, accs)
			}
		}
		robust := append([]bool(nil), mask...)
		ub := threat{norm: "linf", eps: 1, attacks: []int{-1}}
		ar, err := r.runAttack("unbounded", -1, ub, robust, mask, r.batches(subset))
		if err != nil {
			return nil, err
		}
		sub.unbounded = ar
	}
	grad, err := r.gradientCheck()
	if err != nil {
		return nil, err
	}
	rep.Checks = checks(rep, &opt, sub, grad)
	rep.Resumed = r.resumed
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// threat is a threat model with the attacks (indices into opt.Attacks)
// that run under it.
type threat struct {
	norm    string
	eps     float64
	attacks []int
}

// threats lists the threat models: the L-inf budgets, then the L2 ones,
// each in increasing order.
func (r *runner) threats() []threat {
	var out []threat
	for _, norm := range []string{"linf", "l2"} {
		var idx []int
		for k, a := range r.opt.Attacks {
			if n, _ := attack.Norm(a.Name); n == norm {
				idx = append(idx, k)
			}
		}
		if len(idx) == 0 {
			continue
		}
		eps := r.opt.Eps
		if norm == "l2" {
			eps = r.opt.EpsL2
		}
		for _, e := range eps {
			out = append(out, threat{norm: norm, eps: e, attacks: idx})
		}
	}
	return out
}

// subset returns the sanity-check images: the first CheckImages correctly
// classified ones.
func (r *runner) subset(correct []bool) []int {
	var s []int
	for i, c := range correct {
		if c && len(s) < r.opt.CheckImages {
			s = append(s, i)
		}
	}
	return s
}

func (r *runner) countUnits(threats []threat, subset []int) int {
	nb := len(r.batches(allIndices(r.n)))
	sb := len(r.batches(subset))
	total := 0
	for _, th := range threats {
		total += len(th.attacks) * nb
		if !r.opt.Standalone {
			total += len(th.attacks) * sb
		}
	}
	return total + sb
}

// batches splits image indices into consecutive batches.
func (r *runner) batches(idx []int) [][]int {
	var out [][]int
	for lo := 0; lo < len(idx); lo += r.opt.BatchSize {
		out = append(out, idx[lo:min(len(idx), lo+r.opt.BatchSize)])
	}
	return out
}

// runAttack runs attack k (-1: the unbounded PGD) under threat th over the
// batches, attacking the images that are still robust (cascade) or
// correct (standalone, or robust == correct for the subset phases), and
// clears robust for every image it breaks.
func (r *runner) runAttack(phase string, k int, th threat, robust, correct []bool, batches [][]int) (*AttackResult, error) {
	spec := r.unbounded()
	if k >= 0 {
		spec = r.opt.Attacks[k]
	}
	cfg := spec.Config
	cfg.Eps = th.eps
	a, err := attack.New(spec.Name, cfg)
	if err != nil {
		return nil, err
	}
	ar := &AttackResult{Name: spec.Name, Spec: spec.String(), Settings: a.Settings()}
	ar.Settings["seed"] = r.opt.Seed
	if cfg.Seed != 0 {
		ar.Settings["seed"] = fmt.Sprintf("%d (spec) + %d", cfg.Seed, r.opt.Seed)
	}
	ar.Settings["seed_derivation"] = "per (attack, eps, batch) unit from the seed"
	var sumLinf, sumL2 float64
	for b, batch := range batches {
		key := unitKey{Phase: phase, Attack: k, Norm: th.norm, Eps: th.eps, Batch: b}
		u, ok := r.st.done(key)
		if ok {
			r.resumed++
			in := map[int]bool{}
			for _, i := range batch {
				in[i] = true
			}
			for _, im := range u.Images {
				if !in[im.I] || im.Pred < 0 || im.Pred >= r.m.NumClasses() {
					return nil, fmt.Errorf("state file %s: unit %+v holds image %d (prediction %d), which is not in that batch: the file is corrupt; delete it", r.opt.State, key, im.I, im.Pred)
				}
			}
		} else {
			var idx []int
			for _, i := range batch {
				if (r.opt.Standalone || phase != "main") && correct[i] || !r.opt.Standalone && phase == "main" && robust[i] {
					idx = append(idx, i)
				}
			}
			if u, err = r.unit(key, spec, th, idx); err != nil {
				return nil, err
			}
			if err := r.st.save(u); err != nil {
				return nil, err
			}
		}
		ar.Seconds += u.Seconds
		for _, im := range u.Images {
			ar.Attacked++
			if im.OOB {
				ar.OutOfBudget++
			}
			if im.NoGrad {
				ar.NoGradient++
			}
			if !im.Broken {
				continue
			}
			ar.Broken++
			robust[im.I] = false
			sumLinf += im.Linf
			sumL2 += im.L2
			ar.MaxLinf = math.Max(ar.MaxLinf, im.Linf)
			ar.MaxL2 = math.Max(ar.MaxL2, im.L2)
		}
		r.done++
		if r.opt.Progress != nil {
			r.opt.Progress(Progress{Done: r.done, Total: r.total, Phase: phase, Attack: spec.Name, Norm: th.norm, Eps: th.eps})
		}
	}
	if ar.Broken > 0 {
		ar.MeanLinf = sumLinf / float64(ar.Broken)
		ar.MeanL2 = sumL2 / float64(ar.Broken)
	}
	if ar.Attacked > 0 {
		ar.SuccessRate = float64(ar.Broken) / float64(ar.Attacked)
	}
	switch {
	case phase != "main":
		// the subset phases: accuracy over the subset
		nc := countTrue(correct)
		ar.Accuracy = counts(nc-ar.Broken, nc)
	case r.opt.Standalone:
		ar.Accuracy = counts(countTrue(correct)-ar.Broken, r.n)
	default:
		ar.Accuracy = counts(countTrue(robust), r.n)
	}
	return ar, nil
}

// unbounded is the attack of the unbounded sanity check: PGD with eps 1,
// which can reach any image.
func (r *runner) unbounded() attack.Spec {
	steps := r.opt.UnboundedSteps
	if steps <= 0 {
		steps = 20
	}
	return attack.Spec{Text: fmt.Sprintf("pgd:steps=%d", steps), Name: "pgd", Config: attack.Config{Steps: steps}}
}

// unit runs one attack on the images idx and judges every result.
func (r *runner) unit(key unitKey, spec attack.Spec, th threat, idx []int) (*unitResult, error) {
	u := &unitResult{unitKey: key, Name: spec.Name, Images: []imageResult{}}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return u, nil
	}
	t0 := time.Now()
	cfg := spec.Config
	cfg.Eps = th.eps
	cfg.Seed = unitSeed(r.opt.Seed, cfg.Seed, key)
	a, err := attack.New(spec.Name, cfg)
	if err != nil {
		return nil, err
	}
	xs := rows(r.x, idx)
	ys := make([]int, len(idx))
	for j, i := range idx {
		ys[j] = r.y[i]
	}
	adv, err := a.Perturb(r.ctx, r.m, xs, ys)
	noGrad := errors.Is(err, attack.ErrNoGradient)
	switch {
	case noGrad:
		adv = xs
	case err != nil:
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%s at eps %g: %w", spec, th.eps, err)
	}
	pred, err := r.predict(adv)
	if err != nil {
		return nil, err
	}
	xf, af := xs.F32(), adv.AsType(tensor.Float32).F32()
	for j, i := range idx {
		var linf, s float64
		for k := j * r.per; k < (j+1)*r.per; k++ {
			d := math.Abs(float64(af[k] - xf[k]))
			linf = math.Max(linf, d)
			s += d * d
		}
		l2 := math.Sqrt(s)
		oob := th.norm == "linf" && linf > th.eps+budgetTol || th.norm == "l2" && l2 > th.eps*(1+budgetTol)+budgetTol
		u.Images = append(u.Images, imageResult{I: i, Pred: pred[j], Linf: linf, L2: l2, OOB: oob, NoGrad: noGrad,
			Broken: pred[j] != r.y[i] && !oob})
	}
	u.Seconds = time.Since(t0).Seconds()
	return u, nil
}

// unitSeed derives the seed of one unit, so that resumed and uninterrupted
// runs draw the same numbers.
func unitSeed(seed, specSeed uint64, k unitKey) uint64 {
	h := sha256.New()
	var b [8]byte
	for _, v := range []uint64{seed, specSeed, uint64(k.Attack + 1), math.Float64bits(k.Eps), uint64(k.Batch)} {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	h.Write([]byte(k.Phase + "/" + k.Norm))
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// predict returns the model's predictions in batches, without a graph.
func (r *runner) predict(x *tensor.Tensor) ([]int, error) {
	n := x.Shape()[0]
	out := make([]int, 0, n)
	for lo := 0; lo < n; lo += r.opt.BatchSize {
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(n, lo+r.opt.BatchSize)
		xb := tensor.Slice(x, 0, lo, hi)
		err := autograd.Try(func() {
			autograd.NoGrad(func() {
				logits, _ := r.m.Forward(autograd.Const(xb), nn.Eval)
				out = append(out, autograd.ArgMax(logits, 1)...)
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// gradStats counts images whose clean input gradient is zero or not
// finite.
type gradStats struct {
	images, zero, nonFinite int
}

func (r *runner) gradientCheck() (*gradStats, error) {
	g := &gradStats{images: r.n}
	for lo := 0; lo < r.n; lo += r.opt.BatchSize {
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(r.n, lo+r.opt.BatchSize)
		_, gr, err := attack.LossGrad(r.m, tensor.Slice(r.x, 0, lo, hi), r.y[lo:hi], 0)
		if errors.Is(err, attack.ErrNoGradient) {
			g.zero += hi - lo
			continue
		}
		if err != nil {
			return nil, err
		}
		v := gr.F32()
		for i := 0; i < hi-lo; i++ {
			zero, nf := true, false
			for _, e := range v[i*r.per : (i+1)*r.per] {
				f := float64(e)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					nf = true
				}
				if e != 0 {
					zero = false
				}
			}
			switch {
			case nf:
				g.nonFinite++
			case zero:
				g.zero++
			}
		}
	}
	return g, nil
}

// identity describes the evaluation for the state file.
func (r *runner) identity(pred []int, threats []threat) map[string]any {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, r.x.F32())
	for _, v := range r.y {
		binary.Write(h, binary.LittleEndian, int64(v))
	}
	hp := sha256.New()
	for _, v := range pred {
		binary.Write(hp, binary.LittleEndian, int64(v))
	}
	var specs []string
	for _, a := range r.opt.Attacks {
		specs = append(specs, a.String())
	}
	return map[string]any{
		"model": r.opt.Model, "data": r.opt.Data, "images": r.n, "limit": r.opt.Limit,
		"data_sha256":              hex.EncodeToString(h.Sum(nil)),
		"clean_predictions_sha256": hex.EncodeToString(hp.Sum(nil)),
		"attacks":                  specs, "eps": r.opt.Eps, "eps_l2": r.opt.EpsL2,
		"standalone": r.opt.Standalone, "batch_size": r.opt.BatchSize, "seed": r.opt.Seed,
		"check_images": r.opt.CheckImages, "unbounded": r.unbounded().String(),
	}
}

// validate checks the inputs of Run and fills in defaults.
func validate(m nn.Classifier, x *tensor.Tensor, y []int, opt *Options) error {
	if m == nil || x == nil {
		return fmt.Errorf("eval: no model or no images")
	}
	if err := nn.CheckInput(m, x.Shape()); err != nil {
		return fmt.Errorf("eval: %v", err)
	}
	n := x.Shape()[0]
	if n == 0 {
		return fmt.Errorf("eval: no images to evaluate")
	}
	if len(y) != n {
		return fmt.Errorf("eval: %d labels for %d images", len(y), n)
	}
	for i, l := range y {
		if l < 0 || l >= m.NumClasses() {
			return fmt.Errorf("eval: label %d of image %d outside the model's %d classes", l, i, m.NumClasses())
		}
	}
	if len(opt.Attacks) == 0 {
		return fmt.Errorf("eval: no attacks given; known: %s", strings.Join(attack.Names(), ", "))
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 100
	}
	if opt.CheckImages == 0 {
		opt.CheckImages = 100
	}
	if opt.CheckImages < 0 {
		opt.CheckImages = 0
	}
	var err error
	if opt.Eps, err = cleanEps(opt.Eps, "eps"); err != nil {
		return err
	}
	if opt.EpsL2, err = cleanEps(opt.EpsL2, "L2 eps"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range opt.Attacks {
		norm, err := attack.Norm(a.Name)
		if err != nil {
			return fmt.Errorf("eval: %v", err)
		}
		if seen[a.String()] {
			return fmt.Errorf("eval: attack %q is listed twice", a)
		}
		seen[a.String()] = true
		eps := opt.Eps
		if norm == "l2" {
			eps = opt.EpsL2
		}
		if len(eps) == 0 {
			if norm == "l2" {
				return fmt.Errorf("eval: %s is an L2 attack and needs L2 budgets (--eps-l2)", a)
			}
			return fmt.Errorf("eval: %s is an L-inf attack and needs L-inf budgets (--eps)", a)
		}
		for _, e := range eps {
			cfg := a.Config
			cfg.Eps = e
			if _, err := attack.New(a.Name, cfg); err != nil {
				return fmt.Errorf("eval: %v", err)
			}
		}
	}
	return nil
}

// cleanEps sorts budgets and rejects duplicates and bad values.
func cleanEps(eps []float64, what string) ([]float64, error) {
	out := append([]float64(nil), eps...)
	sort.Float64s(out)
	for i, e := range out {
		if math.IsNaN(e) || e < 0 {
			return nil, fmt.Errorf("eval: %s %g must be >= 0 (on the [0,1] pixel scale)", what, e)
		}
		if i > 0 && e == out[i-1] {
			return nil, fmt.Errorf("eval: %s %g is listed twice", what, e)
		}
	}
	return out, nil
}

// inputScale returns the model's input normalisation when it is known.
func inputScale(m nn.Classifier) Scale {
	if mean, std, ok := nn.InputNormalization(m); ok {
		return Scale{Known: true, Mean: mean, Std: std}
	}
	return Scale{}
}

// epsInput converts a budget to the model's input scale, per channel.
func epsInput(s Scale, eps float64) []float64 {
	if !s.Known {
		return nil
	}
	out := make([]float64, len(s.Std))
	for i, sd := range s.Std {
		out[i] = eps / sd
	}
	return out
}

func rows(x *tensor.Tensor, idx []int) *tensor.Tensor {
	per := x.Size() / x.Shape()[0]
	out := tensor.Zeros(tensor.Float32, append([]int{len(idx)}, x.Shape()[1:]...)...)
	src, dst := x.F32(), out.F32()
	for j, i := range idx {
		copy(dst[j*per:(j+1)*per], src[i*per:(i+1)*per])
	}
	return out
}

func allIndices(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

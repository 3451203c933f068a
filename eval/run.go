package eval

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/shard"
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
// budget on one batch, or the clean pass of a batch).
type Progress struct {
	Done, Total int
	Phase       string // "clean", "main", "subset" or "unbounded"
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
	// were chosen (the first Limit of DataImages), or Subset when they are
	// a seeded subset of them.
	Model, Data       string
	DataImages, Limit int
	Subset            *Subset
	// TrainingSeed is the model's training seed when known (recorded, so
	// that comparisons over seeds pair by it).
	TrainingSeed *uint64
	// ModelID fingerprints the model (the SHA-256 of its weights file,
	// say): record files of another model are refused when resuming or
	// merging. Optional.
	ModelID string
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
	// MaxBlackBoxGain is the largest share of the images every white-box
	// attack left that a black-box attack may break (tested one-sided at
	// 5%): half a percentage point of robust accuracy.
	MaxBlackBoxGain = 0.005
	budgetTol       = 1e-5
)

// Run evaluates the robustness of m on images x ([N,C,H,W], pixels in
// [0,1]) with labels y: clean accuracy, every attack at every budget, the
// per-image worst case and the sanity checks of evaluation.md. It runs
// every item of the evaluation (see Evaluation) in this process, keeping
// the finished units in opt.State if set, and combines them (Combine).
func Run(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, opt Options) (*Report, error) {
	src, err := inMemory(m, x, y)
	if err != nil {
		return nil, err
	}
	return RunFrom(ctx, m, src, opt)
}

// RunFrom is Run on the images of src, read a batch at a time.
func RunFrom(ctx context.Context, m nn.Classifier, src *data.Source, opt Options) (*Report, error) {
	start := time.Now()
	e, err := NewFrom(m, src, opt)
	if err != nil {
		return nil, err
	}
	units, resumed, err := e.runItems(ctx, 0, e.nb, "")
	if err != nil {
		return nil, err
	}
	rep, err := Combine(e.h, units)
	if err != nil {
		return nil, err
	}
	rep.Resumed = resumed
	rep.Started = start.UTC()
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// RunShard runs shard s of an evaluation: the items of its batches (see
// package shard), keeping their units in the record file opt.State
// (required; run it again to resume). Merge combines the record files of
// all shards into the report Run would have given.
func RunShard(ctx context.Context, m nn.Classifier, x *tensor.Tensor, y []int, opt Options, s shard.Spec) error {
	src, err := inMemory(m, x, y)
	if err != nil {
		return err
	}
	return RunShardFrom(ctx, m, src, opt, s)
}

// RunShardFrom is RunShard on the images of src, read a batch at a time.
func RunShardFrom(ctx context.Context, m nn.Classifier, src *data.Source, opt Options, s shard.Spec) error {
	if opt.State == "" {
		return fmt.Errorf("eval: a shard needs a record file (--state) for its results")
	}
	e, err := NewFrom(m, src, opt)
	if err != nil {
		return err
	}
	lo, hi, err := s.Batches(e.nb)
	if err != nil {
		return err
	}
	_, _, err = e.runItems(ctx, lo, hi, s.String())
	return err
}

// runItems runs every item of batches [lo, hi): the clean pass first (the
// sanity-check subset needs its predictions), then every threat model,
// batch by batch (each batch's images are read for the clean pass and
// once more for all threat models).
// The units go to opt.State when it is set. It returns the units and how
// many of them were read back from the state file.
func (e *Evaluation) runItems(ctx context.Context, lo, hi int, shardName string) ([]Unit, int, error) {
	var st store = &memStore{units: map[UnitKey]*Unit{}}
	if e.opt.State != "" {
		fs, err := openRecords(e.opt.State, e.h, lo, hi, shardName)
		if err != nil {
			return nil, 0, err
		}
		defer fs.close()
		st = fs
	}
	var units []Unit
	resumed := 0
	total := 0
	finished := func(u *Unit, old bool) {
		units = append(units, *u)
		if old {
			resumed++
		}
		if e.opt.Progress != nil {
			p := Progress{Done: len(units), Total: total, Phase: u.Phase, Norm: u.Norm, Eps: u.Eps, Attack: u.Name}
			e.opt.Progress(p)
		}
	}
	// the clean pass over all batches, then every threat model batch by
	// batch, so that a batch's images are read (decoded) twice in all, not
	// once per threat model; the units do not depend on the order
	items := []Item{{Threat: Clean, Lo: lo, Hi: hi}}
	for b := lo; b < hi; b++ {
		for t := range e.h.Threats {
			items = append(items, Item{Threat: t, Lo: b, Hi: b + 1})
		}
	}
	for i, it := range items {
		if i == 1 {
			// the clean pass is done: count the units
			var err error
			if total, err = e.countUnits(ctx, lo, hi); err != nil {
				return nil, 0, err
			}
			total += len(units) // those of the clean pass
		}
		if it.Threat == Clean {
			total = len(units) + hi - lo
		}
		if err := e.work(ctx, it, st, finished); err != nil {
			return nil, 0, err
		}
	}
	return units, resumed, nil
}

// countUnits counts the units of the threat items of batches [lo, hi).
func (e *Evaluation) countUnits(ctx context.Context, lo, hi int) (int, error) {
	n := 0
	for b := lo; b < hi; b++ {
		sub, err := e.subsetIn(ctx, b)
		if err != nil {
			return 0, err
		}
		for _, th := range e.h.Threats {
			n += len(th.Attacks)
			if !e.opt.Standalone && len(sub) > 0 {
				n += len(th.Attacks)
			}
			if len(sub) > 0 {
				n += len(th.Checks)
			}
		}
	}
	return n, nil
}

// header describes the evaluation: the threat models with the attacks
// that run under them (L-inf budgets, then L2 ones, each in increasing
// order) and their settings.
func (e *Evaluation) header() (*Header, error) {
	opt := e.opt
	h := &Header{Model: opt.Model, ModelID: opt.ModelID, Data: opt.Data, Images: e.n, DataImages: opt.DataImages, Limit: opt.Limit,
		Subset: opt.Subset, TrainingSeed: opt.TrainingSeed,
		Classes: e.m.NumClasses(), Standalone: opt.Standalone, BatchSize: opt.BatchSize, Seed: opt.Seed,
		CheckImages: opt.CheckImages, AttentionTrained: opt.AttentionTrained, Scale: inputScale(e.m)}
	if h.DataImages == 0 {
		h.DataImages = e.n
	}
	plan := func(k int, spec attack.Spec, eps float64) (AttackPlan, error) {
		cfg := spec.Config
		cfg.Eps = eps
		a, err := attack.New(spec.Name, cfg)
		if err != nil {
			return AttackPlan{}, err
		}
		st := a.Settings()
		st["seed"] = opt.Seed
		if spec.Config.Seed != 0 {
			st["seed"] = fmt.Sprintf("%d (spec) + %d", spec.Config.Seed, opt.Seed)
		}
		st["seed_derivation"] = "per image from (seed, attack, budget, image index)"
		return AttackPlan{Index: k, Name: spec.Name, Spec: spec.String(), Settings: st, config: spec.Config, specSeed: spec.Config.Seed}, nil
	}
	for _, a := range opt.Attacks {
		h.Attacks = append(h.Attacks, a.String())
	}
	for _, norm := range []string{"linf", "l2"} {
		eps := opt.Eps
		if norm == "l2" {
			eps = opt.EpsL2
		}
		for _, ep := range eps {
			th := ThreatPlan{Norm: norm, Eps: ep}
			for k, a := range opt.Attacks {
				if n, _ := attack.Norm(a.Name); n != norm {
					continue
				}
				ap, err := plan(k, a, ep)
				if err != nil {
					return nil, err
				}
				th.Attacks = append(th.Attacks, ap)
			}
			if len(th.Attacks) == 0 {
				continue
			}
			if norm == "linf" && needsSingleStep(th.Attacks) {
				ap, err := plan(CheckAttack, attack.Spec{Name: "fgsm", Text: "fgsm"}, ep)
				if err != nil {
					return nil, err
				}
				th.Checks = append(th.Checks, ap)
			}
			h.Threats = append(h.Threats, th)
		}
	}
	ub, err := plan(-1, unbounded(opt.UnboundedSteps), 1)
	if err != nil {
		return nil, err
	}
	h.Unbounded = ub
	return h.normalized()
}

// needsSingleStep reports whether an L-inf threat model has untargeted
// iterative attacks but no untargeted single-step attack for the check
// that iterative attacks are at least as strong.
func needsSingleStep(as []AttackPlan) bool {
	iter, single := false, false
	for _, a := range as {
		if fmt.Sprint(a.Settings["targeting"]) != string(attack.Untargeted) {
			continue
		}
		switch fmt.Sprint(a.Settings["kind"]) {
		case "iterative":
			iter = true
		case "single-step":
			single = true
		}
	}
	return iter && !single
}

// unbounded is the attack of the unbounded sanity check: PGD with eps 1,
// which can reach any image, starting from the clean image. A random start
// in a ball of radius 1 is a random image, which most models already
// misclassify: success there would pass the check without a single
// gradient step.
func unbounded(steps int) attack.Spec {
	if steps <= 0 {
		steps = 20
	}
	return attack.Spec{Text: fmt.Sprintf("pgd:steps=%d:random-start=false", steps), Name: "pgd", Config: attack.Config{Steps: steps, NoRandomStart: true}}
}

// validate checks the inputs of Run and fills in defaults.
// inMemory is the Source of images x ([N,C,H,W]) with labels y.
func inMemory(m nn.Classifier, x *tensor.Tensor, y []int) (*data.Source, error) {
	if m == nil || x == nil {
		return nil, fmt.Errorf("eval: no model or no images")
	}
	sh := x.Shape()
	if len(sh) != 4 {
		if err := nn.CheckInput(m, sh); err != nil {
			return nil, fmt.Errorf("eval: %v", err)
		}
		return nil, fmt.Errorf("eval: images of shape %v, want [N,C,H,W]", sh)
	}
	if len(y) != sh[0] {
		return nil, fmt.Errorf("eval: %d labels for %d images", len(y), sh[0])
	}
	return data.FromDataset(&data.Dataset{C: sh[1], H: sh[2], W: sh[3], Images: x.AsType(tensor.Float32).F32(), Labels: y}), nil
}

func validate(m nn.Classifier, src *data.Source, opt *Options) error {
	if m == nil || src == nil {
		return fmt.Errorf("eval: no model or no images")
	}
	n := src.Len()
	if err := nn.CheckInput(m, []int{n, src.C, src.H, src.W}); err != nil {
		return fmt.Errorf("eval: %v", err)
	}
	if n == 0 {
		return fmt.Errorf("eval: no images to evaluate")
	}
	y := src.Labels
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

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

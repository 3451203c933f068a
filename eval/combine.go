package eval

import (
	"errors"
	"fmt"
	"github.com/arp-robustness/arp/buildinfo"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
)

// Combine turns the units of an evaluation into its report: clean
// accuracy, every attack at every budget, the per-image worst case and the
// sanity checks. It needs every unit exactly once: the clean pass of every
// batch, every attack on every batch, and the sanity-check runs on the
// batches that hold check images; anything missing, extra or inconsistent
// (a unit that attacked other images than the evaluation would have) is an
// error. Run, Merge and arp-beam all end here. The report's Seconds is the
// sum of the units' times.
func Combine(h *Header, units []Unit) (*Report, error) {
	if h.BatchSize < 1 || h.Images < 1 || h.Classes < 1 {
		return nil, fmt.Errorf("eval: header with %d images in batches of %d and %d classes", h.Images, h.BatchSize, h.Classes)
	}
	c := &combiner{h: h, nb: shard.Count(h.Images, h.BatchSize), units: make(map[UnitKey]*Unit, len(units))}
	for i := range units {
		u := &units[i]
		if _, dup := c.units[u.UnitKey]; dup {
			return nil, fmt.Errorf("eval: the %v is recorded twice", u.UnitKey)
		}
		c.units[u.UnitKey] = u
	}
	rep, err := c.report()
	if rep != nil {
		rep.Version = buildinfo.String()
	}
	if err != nil {
		return nil, err
	}
	if len(c.used) != len(c.units) {
		var extra []string
		for k := range c.units {
			if !c.used[k] {
				extra = append(extra, k.String())
			}
		}
		sort.Strings(extra)
		return nil, fmt.Errorf("eval: %d records do not belong to this evaluation (e.g. the %s)", len(extra), extra[0])
	}
	return rep, nil
}

type combiner struct {
	h     *Header
	nb    int
	units map[UnitKey]*Unit
	used  map[UnitKey]bool
}

// MissingError is Combine's error for a unit that is not among the units.
type MissingError struct {
	Key        UnitKey
	ImLo, ImHi int // the images of its batch
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("eval: no record of the %v (images %d-%d)", e.Key, e.ImLo, e.ImHi-1)
}

// get returns a unit and marks it used.
func (c *combiner) get(k UnitKey) (*Unit, error) {
	u, ok := c.units[k]
	if !ok {
		lo, hi := shard.Images(k.Batch, k.Batch+1, c.h.BatchSize, c.h.Images)
		return nil, &MissingError{Key: k, ImLo: lo, ImHi: hi}
	}
	if c.used == nil {
		c.used = map[UnitKey]bool{}
	}
	c.used[k] = true
	return u, nil
}

func (c *combiner) report() (*Report, error) {
	h := c.h
	rep := &Report{Model: h.Model, Data: h.Data, Images: h.Images, DataImages: h.DataImages, Limit: h.Limit,
		Subset: h.Subset, TrainingSeed: h.TrainingSeed,
		Mode: "cascade", Seed: h.Seed, BatchSize: h.BatchSize, Scale: h.Scale}
	if h.Standalone {
		rep.Mode = "standalone"
	}
	// the clean pass (every batch's unit checked before anything of the
	// header's size is allocated)
	clean := make([]*Unit, c.nb)
	for b := range clean {
		u, err := c.get(UnitKey{Phase: "clean", Batch: b})
		if err != nil {
			return nil, err
		}
		lo, hi := shard.Images(b, b+1, h.BatchSize, h.Images)
		if len(u.Pred) != hi-lo || len(u.Labels) != hi-lo {
			return nil, fmt.Errorf("eval: the %v has %d predictions and %d labels for %d images", u.UnitKey, len(u.Pred), len(u.Labels), hi-lo)
		}
		clean[b] = u
	}
	correct := make([]bool, h.Images)
	g := &gradStats{images: h.Images}
	nc := 0
	for b, u := range clean {
		lo, hi := shard.Images(b, b+1, h.BatchSize, h.Images)
		for j, p := range u.Pred {
			if p < 0 || p >= h.Classes || u.Labels[j] < 0 || u.Labels[j] >= h.Classes {
				return nil, fmt.Errorf("eval: the %v has class %d or label %d outside the %d classes", u.UnitKey, p, u.Labels[j], h.Classes)
			}
			if p == u.Labels[j] {
				correct[lo+j] = true
				nc++
			}
		}
		for _, i := range append(slices.Clone(u.ZeroGrad), u.NonFiniteGrad...) {
			if i < lo || i >= hi {
				return nil, fmt.Errorf("eval: the %v flags image %d, which is not in the batch", u.UnitKey, i)
			}
		}
		g.zero += len(u.ZeroGrad)
		g.nonFinite += len(u.NonFiniteGrad)
		rep.Seconds += u.Seconds
	}
	rep.Clean = counts(nc, h.Images)
	rep.Correct = slices.Clone(correct)
	// the check subset: the first CheckImages correct images
	var subset []int
	for i, ok := range correct {
		if ok && len(subset) < h.CheckImages {
			subset = append(subset, i)
		}
	}
	inSubset := make([]bool, h.Images)
	for _, i := range subset {
		inSubset[i] = true
	}
	// the main phase; mainBroken[t][k][i]: attack k of threat t broke image i
	mainBroken := make([][][]bool, len(h.Threats))
	for ti, th := range h.Threats {
		t := Threat{Norm: th.Norm, Eps: th.Eps, EpsInput: epsInput(h.Scale, th.Eps)}
		robust := slices.Clone(correct)
		for _, ap := range th.Attacks {
			attacked := robust
			if h.Standalone {
				attacked = correct
			}
			broken := make([]bool, h.Images)
			ar, err := c.attack("main", &ap, th.Norm, th.Eps, attacked, robust, broken)
			if err != nil {
				return nil, err
			}
			mainBroken[ti] = append(mainBroken[ti], broken)
			rep.Seconds += ar.Seconds
			switch {
			case h.Standalone:
				ar.Accuracy = counts(nc-ar.Broken, h.Images)
			default:
				ar.Accuracy = counts(countTrue(robust), h.Images)
			}
			t.Attacks = append(t.Attacks, *ar)
		}
		t.Worst = counts(countTrue(robust), h.Images)
		t.Robust = slices.Clone(robust)
		rep.Threats = append(rep.Threats, t)
	}
	// the sanity-check runs on the subset
	sub := &subsetResults{images: len(subset)}
	subBroken := make([][][]bool, len(h.Threats)) // as mainBroken, on the subset
	if len(subset) > 0 {
		for ti, th := range h.Threats {
			var accs []Counts
			for k, ap := range th.Attacks {
				broken := make([]bool, h.Images)
				if h.Standalone {
					// the main runs, on the subset's images
					for i, in := range inSubset {
						broken[i] = in && mainBroken[ti][k][i]
					}
				} else {
					ar, err := c.attack("subset", &ap, th.Norm, th.Eps, inSubset, slices.Clone(inSubset), broken)
					if err != nil {
						return nil, err
					}
					rep.Seconds += ar.Seconds
				}
				subBroken[ti] = append(subBroken[ti], broken)
				accs = append(accs, counts(len(subset)-countTrue(broken), len(subset)))
			}
			sub.standalone = append(sub.standalone, accs)
			var checks []AttackResult
			for _, ap := range th.Checks {
				ar, err := c.attack("subset", &ap, th.Norm, th.Eps, inSubset, slices.Clone(inSubset), nil)
				if err != nil {
					return nil, err
				}
				rep.Seconds += ar.Seconds
				ar.Accuracy = counts(len(subset)-ar.Broken, len(subset))
				checks = append(checks, *ar)
			}
			sub.checks = append(sub.checks, checks)
		}
		ar, err := c.attack("unbounded", &h.Unbounded, "linf", 1, inSubset, slices.Clone(inSubset), nil)
		if err != nil {
			return nil, err
		}
		rep.Seconds += ar.Seconds
		ar.Accuracy = counts(len(subset)-ar.Broken, len(subset))
		sub.unbounded = ar
	}
	var names []string
	for _, a := range h.Attacks {
		sp, err := ParseAttacks([]string{a})
		if err != nil {
			return nil, fmt.Errorf("eval: %v", err)
		}
		names = append(names, sp[0].Name)
	}
	sub.blackBox = blackBoxGains(rep, h.Standalone, correct, inSubset, mainBroken, subBroken)
	rep.Checks = checks(rep, names, h.AttentionTrained, sub, g)
	return rep, nil
}

// blackBoxGains finds, for every black-box attack, the images every
// white-box attack of its threat model left unbroken and how many of
// those it broke: from the main cascade when every white-box attack ran
// before it (all images), from the main runs in standalone mode, else from
// the standalone runs on the check subset.
func blackBoxGains(rep *Report, standalone bool, correct, inSubset []bool, mainBroken, subBroken [][][]bool) [][]blackBoxGain {
	out := make([][]blackBoxGain, len(rep.Threats))
	for t, th := range rep.Threats {
		for k, a := range th.Attacks {
			if setting(a, "box") != "black-box" {
				continue
			}
			g := blackBoxGain{spec: a.Spec}
			lastWhite := -1
			for j, w := range th.Attacks {
				if setting(w, "box") == "white-box" {
					lastWhite = j
				}
			}
			if lastWhite < 0 {
				continue
			}
			switch {
			case !standalone && lastWhite < k:
				g.left, g.broken, g.where = a.Attacked, a.Broken, "in the cascade, on all images"
			default:
				base, broken, where := correct, mainBroken[t], "standalone results, all images"
				if !standalone {
					base, broken, where = inSubset, subBroken[t], "standalone runs on the check subset"
				}
				if len(broken) != len(th.Attacks) {
					continue // no check subset
				}
				g.where = where
				for i, ok := range base {
					if !ok {
						continue
					}
					white := false
					for j, w := range th.Attacks {
						white = white || setting(w, "box") == "white-box" && broken[j][i]
					}
					if !white {
						g.left++
						if broken[k][i] {
							g.broken++
						}
					}
				}
			}
			out[t] = append(out[t], g)
		}
	}
	return out
}

// attack sums the units of one attack over the batches: the images
// attacked[i] must be exactly those each unit attacked; robust[i] is
// cleared for every image it broke. Accuracy is left to the caller.
// broken (nil: not wanted) is set for every image the attack broke.
func (c *combiner) attack(phase string, ap *AttackPlan, norm string, eps float64, attacked, robust, broken []bool) (*AttackResult, error) {
	h := c.h
	ar := &AttackResult{Name: ap.Name, Spec: ap.Spec, Settings: ap.Settings}
	var sumLinf, sumL2 float64
	for b := 0; b < c.nb; b++ {
		lo, hi := shard.Images(b, b+1, h.BatchSize, h.Images)
		var idx []int
		for i := lo; i < hi; i++ {
			if attacked[i] {
				idx = append(idx, i)
			}
		}
		key := UnitKey{Phase: phase, Attack: ap.Index, Norm: norm, Eps: eps, Batch: b}
		if phase != "main" && len(idx) == 0 {
			continue // the check runs skip batches without check images
		}
		u, err := c.get(key)
		if err != nil {
			return nil, err
		}
		if err := u.attacked(idx); err != nil {
			return nil, err
		}
		ar.Seconds += u.Seconds
		for _, im := range u.Images {
			if im.Pred < 0 || im.Pred >= h.Classes {
				return nil, fmt.Errorf("eval: the %v predicts class %d for image %d, outside the %d classes", u.UnitKey, im.Pred, im.I, h.Classes)
			}
			ar.Attacked++
			if im.OOB {
				ar.OutOfBudget++
			}
			if im.Range {
				ar.OutOfRange++
			}
			if im.NoGrad {
				ar.NoGradient++
			}
			if !im.Broken {
				continue
			}
			ar.Broken++
			robust[im.I] = false
			if broken != nil {
				broken[im.I] = true
			}
			sumLinf += im.Linf
			sumL2 += im.L2
			ar.MaxLinf = math.Max(ar.MaxLinf, im.Linf)
			ar.MaxL2 = math.Max(ar.MaxL2, im.L2)
		}
	}
	if ar.Broken > 0 {
		ar.MeanLinf = sumLinf / float64(ar.Broken)
		ar.MeanL2 = sumL2 / float64(ar.Broken)
	}
	if ar.Attacked > 0 {
		ar.SuccessRate = float64(ar.Broken) / float64(ar.Attacked)
	}
	return ar, nil
}

// Merge reads the record files of the shards of one evaluation (arp eval
// --shard i/N --state FILE) and combines them into the report of the whole
// evaluation, the one Run would have given. The files must come from the
// same evaluation (same header), cover every batch exactly once between
// them and be complete; otherwise the error names the file (or the missing
// batches) and nothing is combined.
func Merge(paths []string) (*Report, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("eval: no record files to merge")
	}
	type part struct {
		path   string
		lo, hi int
		shard  string
	}
	var h *Header
	var first string
	var parts []part
	var units []Unit
	for _, p := range paths {
		if err := rundir.FileBusy(p); err != nil {
			return nil, fmt.Errorf("record file %w", err) // a shard still running
		}
		data, err := limits.ReadFile(p, limits.FitsMemory)
		if err != nil {
			return nil, fmt.Errorf("record file %s: %v", p, err)
		}
		r, err := readRecords(p, data)
		if err != nil {
			return nil, err
		}
		if r.head == nil {
			return nil, fmt.Errorf("record file %s is empty", p)
		}
		if r.cut {
			return nil, fmt.Errorf("record file %s ends in a line cut short: its shard %q was interrupted; run it again (it resumes) before merging", p, r.head.Shard)
		}
		if h == nil {
			h, first = r.head.Eval, p
		} else if d := h.diff(r.head.Eval); d != "" {
			return nil, fmt.Errorf("record file %s belongs to a different evaluation than %s (%s)", p, first, d)
		}
		parts = append(parts, part{p, r.head.Lo, r.head.Hi, r.head.Shard})
		for _, k := range r.order {
			units = append(units, *r.units[k])
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return a.lo - b.lo })
	nb := shard.Count(h.Images, h.BatchSize)
	next := 0
	for _, p := range parts {
		switch {
		case p.lo < next:
			return nil, fmt.Errorf("record files overlap: %s holds batches %d-%d, which another file also holds", p.path, p.lo, p.hi-1)
		case p.lo > next:
			lo, hi := shard.Images(next, p.lo, h.BatchSize, h.Images)
			return nil, fmt.Errorf("no record file holds batches %d-%d (images %d-%d): a shard is missing", next, p.lo-1, lo, hi-1)
		}
		next = p.hi
	}
	if next < nb {
		lo, hi := shard.Images(next, nb, h.BatchSize, h.Images)
		return nil, fmt.Errorf("no record file holds batches %d-%d (images %d-%d): a shard is missing", next, nb-1, lo, hi-1)
	}
	rep, err := Combine(h, units)
	var miss *MissingError
	if errors.As(err, &miss) {
		for _, p := range parts {
			if miss.Key.Batch >= p.lo && miss.Key.Batch < p.hi {
				return nil, fmt.Errorf("record file %s (shard %q) is incomplete: %v; run its shard again to finish it", p.path, p.shard, err)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	rep.Started = time.Now().UTC()
	return rep, nil
}

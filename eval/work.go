package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/shard"
	"github.com/arp-robustness/arp/tensor"
)

// Evaluation is an evaluation ready to run: the model, the images and the
// validated options, split into work. Batch b holds images [b*BatchSize,
// (b+1)*BatchSize); an Item is a range of batches under one threat model
// (or the clean pass), and its Units depend only on the item, never on
// which process runs it or what ran before. Run does all items in one
// process, RunShard the items of one shard, and a distributed engine (the
// Beam pipelines of arp-beam) runs items anywhere; Combine turns the units
// into the Report, the same whichever way they were made.
type Evaluation struct {
	m   nn.Classifier
	src *data.Source
	y   []int
	opt Options
	h   *Header
	n   int
	per int
	nb  int

	mu    sync.Mutex
	clean map[int]*Unit // clean units computed so far, by batch
	// cur is the batch read last (curB its index, -1: none): an item reads
	// each of its batches once, and holds one batch's images at a time.
	cur  *tensor.Tensor
	curB int
}

// Item is a piece of an evaluation's work: batches [Lo, Hi) under threat
// model Threat (an index into Header.Threats: every attack of that threat,
// in order, and in cascade mode their standalone runs on the check subset)
// or, with Threat -1, the clean pass (predictions and input gradients) and
// the unbounded sanity check.
type Item struct {
	Threat int `json:"threat"`
	Lo     int `json:"lo"`
	Hi     int `json:"hi"`
}

// Clean is Item.Threat of the clean pass.
const Clean = -1

func (it Item) String() string {
	what := fmt.Sprintf("threat %d", it.Threat)
	if it.Threat == Clean {
		what = "clean pass"
	}
	return fmt.Sprintf("%s, batches %d-%d", what, it.Lo, it.Hi-1)
}

// New validates the inputs of an evaluation of m on images x ([N,C,H,W],
// pixels in [0,1]) held in memory with labels y and returns it, ready to
// run (NewFrom of those images).
func New(m nn.Classifier, x *tensor.Tensor, y []int, opt Options) (*Evaluation, error) {
	src, err := inMemory(m, x, y)
	if err != nil {
		return nil, err
	}
	return NewFrom(m, src, opt)
}

// NewFrom validates the inputs of an evaluation of m on the images of src
// (read a batch at a time: the evaluation holds one batch's images, never
// the whole dataset) and returns it, ready to run.
func NewFrom(m nn.Classifier, src *data.Source, opt Options) (*Evaluation, error) {
	if err := validate(m, src, &opt); err != nil {
		return nil, err
	}
	e := &Evaluation{m: m, src: src, y: src.Labels, opt: opt, n: src.Len(), per: src.ImageSize(), clean: map[int]*Unit{}, curB: -1}
	e.nb = shard.Count(e.n, opt.BatchSize)
	h, err := e.header()
	if err != nil {
		return nil, err
	}
	e.h = h
	return e, nil
}

// Header describes the evaluation (see Header).
func (e *Evaluation) Header() *Header { return e.h }

// Batches is the number of batches.
func (e *Evaluation) Batches() int { return e.nb }

// Items splits batches [lo, hi) into items of at most per batches: the
// clean pass first, then every threat model.
func (e *Evaluation) Items(lo, hi, per int) []Item {
	per = max(per, 1)
	var out []Item
	for t := Clean; t < len(e.h.Threats); t++ {
		for b := lo; b < hi; b += per {
			out = append(out, Item{Threat: t, Lo: b, Hi: min(hi, b+per)})
		}
	}
	return out
}

// checkItem validates an item against the evaluation.
func (e *Evaluation) checkItem(it Item) error {
	if it.Threat < Clean || it.Threat >= len(e.h.Threats) {
		return fmt.Errorf("eval: item %v: threat %d outside 0..%d", it, it.Threat, len(e.h.Threats)-1)
	}
	if it.Lo < 0 || it.Hi > e.nb || it.Lo >= it.Hi {
		lo, hi := shard.Images(it.Lo, it.Hi, e.opt.BatchSize, e.n)
		return fmt.Errorf("eval: batches %d-%d (images %d-%d) are outside the %d batches of %d images of this evaluation", it.Lo, it.Hi-1, lo, hi-1, e.nb, e.n)
	}
	return nil
}

// Work runs an item and returns its units.
func (e *Evaluation) Work(ctx context.Context, it Item) ([]Unit, error) {
	var out []Unit
	st := &memStore{units: map[UnitKey]*Unit{}}
	err := e.work(ctx, it, st, func(u *Unit, _ bool) { out = append(out, *u) })
	return out, err
}

// store holds finished units: in memory, or a record file.
type store interface {
	done(UnitKey) (*Unit, bool)
	save(*Unit) error
}

type memStore struct{ units map[UnitKey]*Unit }

func (s *memStore) done(k UnitKey) (*Unit, bool) { u, ok := s.units[k]; return u, ok }
func (s *memStore) save(u *Unit) error           { s.units[u.UnitKey] = u; return nil }

// work runs item it, taking finished units from st and saving new ones
// there; finished is called for every unit of the item (resumed: read
// from st).
func (e *Evaluation) work(ctx context.Context, it Item, st store, finished func(u *Unit, resumed bool)) error {
	if err := e.checkItem(it); err != nil {
		return err
	}
	for b := it.Lo; b < it.Hi; b++ {
		cl, err := e.cleanUnit(ctx, b)
		if err != nil {
			return err
		}
		lo, _ := e.batch(b)
		if it.Threat == Clean {
			if old, ok := st.done(cl.UnitKey); ok {
				if err := sameClean(old, cl, lo); err != nil {
					return err
				}
				finished(old, true)
			} else {
				if err := st.save(cl); err != nil {
					return err
				}
				finished(cl, false)
			}
			if sub, err := e.subsetIn(ctx, b); err != nil {
				return err
			} else if len(sub) > 0 {
				ub := &e.h.Unbounded
				key := UnitKey{Phase: "unbounded", Attack: -1, Norm: "linf", Eps: 1, Batch: b}
				if _, err := e.unitOnce(ctx, st, key, ub, sub, finished); err != nil {
					return err
				}
			}
			continue
		}
		th := &e.h.Threats[it.Threat]
		correct := cl.correct(lo, e.y)
		robust := slices.Clone(correct)
		for _, ap := range th.Attacks {
			key := UnitKey{Phase: "main", Attack: ap.Index, Norm: th.Norm, Eps: th.Eps, Batch: b}
			idx := robust
			if e.opt.Standalone {
				idx = correct
			}
			u, err := e.unitOnce(ctx, st, key, &ap, idx, finished)
			if err != nil {
				return err
			}
			robust = u.unbroken(robust)
		}
		sub, err := e.subsetIn(ctx, b)
		if err != nil {
			return err
		}
		if len(sub) == 0 {
			continue
		}
		// the standalone runs on the check subset (cascade mode), and the
		// attacks only the checks need
		var runs []AttackPlan
		if !e.opt.Standalone {
			runs = th.Attacks
		}
		for _, ap := range append(slices.Clone(runs), th.Checks...) {
			key := UnitKey{Phase: "subset", Attack: ap.Index, Norm: th.Norm, Eps: th.Eps, Batch: b}
			if _, err := e.unitOnce(ctx, st, key, &ap, sub, finished); err != nil {
				return err
			}
		}
	}
	return nil
}

// unitOnce returns the unit key from st, checking that it attacked the
// images idx, or runs and saves it.
func (e *Evaluation) unitOnce(ctx context.Context, st store, key UnitKey, ap *AttackPlan, idx []int, finished func(*Unit, bool)) (*Unit, error) {
	if u, ok := st.done(key); ok {
		if err := u.attacked(idx); err != nil {
			return nil, err
		}
		finished(u, true)
		return u, nil
	}
	u, err := e.unit(ctx, key, ap, idx)
	if err != nil {
		return nil, err
	}
	if err := st.save(u); err != nil {
		return nil, err
	}
	finished(u, false)
	return u, nil
}

// batch returns the images [lo, hi) of batch b.
func (e *Evaluation) batch(b int) (lo, hi int) {
	return shard.Images(b, b+1, e.opt.BatchSize, e.n)
}

// images returns the images of batch b ([hi-lo, C, H, W]), read from the
// source unless it is the batch read last.
func (e *Evaluation) images(b int) (*tensor.Tensor, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.curB == b {
		return e.cur, nil
	}
	e.cur, e.curB = nil, -1 // one batch at a time
	lo, hi := e.batch(b)
	d, err := e.src.Read(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("batch %d (images %d-%d): %w", b, lo, hi-1, err)
	}
	e.cur, e.curB = tensor.FromFloat32(d.Images, hi-lo, e.src.C, e.src.H, e.src.W), b
	return e.cur, nil
}

// cleanUnit returns the clean pass of batch b: predictions, input
// gradient flags and the batch's data hash (computed once per
// Evaluation).
func (e *Evaluation) cleanUnit(ctx context.Context, b int) (*Unit, error) {
	e.mu.Lock()
	u, ok := e.clean[b]
	e.mu.Unlock()
	if ok {
		return u, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	lo, hi := e.batch(b)
	xb, err := e.images(b)
	if err != nil {
		return nil, err
	}
	u = &Unit{UnitKey: UnitKey{Phase: "clean", Batch: b}, Name: "clean", Images: []ImageResult{}, Labels: slices.Clone(e.y[lo:hi])}
	err = autograd.Try(func() {
		autograd.NoGrad(func() {
			logits, _ := e.m.Forward(autograd.Const(xb), nn.Eval)
			u.Pred = autograd.ArgMax(logits, 1)
		})
	})
	if err != nil {
		return nil, err
	}
	_, gr, err := attack.LossGrad(e.m, xb, e.y[lo:hi], 0)
	switch {
	case errors.Is(err, attack.ErrNoGradient):
		for i := lo; i < hi; i++ {
			u.ZeroGrad = append(u.ZeroGrad, i)
		}
	case err != nil:
		return nil, err
	default:
		v := gr.F32()
		for i := lo; i < hi; i++ {
			zero, nf := true, false
			for _, g := range v[(i-lo)*e.per : (i-lo+1)*e.per] {
				f := float64(g)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					nf = true
				}
				if g != 0 {
					zero = false
				}
			}
			switch {
			case nf:
				u.NonFiniteGrad = append(u.NonFiniteGrad, i)
			case zero:
				u.ZeroGrad = append(u.ZeroGrad, i)
			}
		}
	}
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, xb.F32())
	for _, v := range e.y[lo:hi] {
		binary.Write(h, binary.LittleEndian, int64(v))
	}
	u.DataSHA256 = hex.EncodeToString(h.Sum(nil))
	u.Seconds = time.Since(t0).Seconds()
	e.mu.Lock()
	e.clean[b] = u
	e.mu.Unlock()
	return u, nil
}

// subsetIn returns the images of batch b in the sanity-check subset: the
// first CheckImages correctly classified images of the evaluation. It
// needs the clean predictions of the batches before b only until the
// subset is full.
func (e *Evaluation) subsetIn(ctx context.Context, b int) ([]int, error) {
	left := e.opt.CheckImages
	for bb := 0; bb < b && left > 0; bb++ {
		u, err := e.cleanUnit(ctx, bb)
		if err != nil {
			return nil, err
		}
		lo, _ := e.batch(bb)
		left -= len(u.correct(lo, e.y))
	}
	if left <= 0 {
		return nil, nil
	}
	u, err := e.cleanUnit(ctx, b)
	if err != nil {
		return nil, err
	}
	lo, _ := e.batch(b)
	c := u.correct(lo, e.y)
	return c[:min(left, len(c))], nil
}

// imageSeed is the seed of image i under an attack at a budget: every
// random choice derives from the evaluation's seed, the attack (its spec
// and the spec's own seed), the threat model and the image's index, so it
// does not depend on batches, shards or interruptions.
func imageSeed(seed uint64, ap *AttackPlan, norm string, eps float64, i int) uint64 {
	h := sha256.New()
	var b [8]byte
	for _, v := range []uint64{seed, ap.specSeed, math.Float64bits(eps), uint64(i)} {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	h.Write([]byte(ap.Spec + "/" + norm))
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// unit runs one attack on the images idx and judges every result.
func (e *Evaluation) unit(ctx context.Context, key UnitKey, ap *AttackPlan, idx []int) (*Unit, error) {
	u := &Unit{UnitKey: key, Name: ap.Name, Images: []ImageResult{}}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return u, nil
	}
	t0 := time.Now()
	cfg := ap.config
	cfg.Eps = key.Eps
	cfg.Seeds = make([]uint64, len(idx))
	for j, i := range idx {
		cfg.Seeds[j] = imageSeed(e.opt.Seed, ap, key.Norm, key.Eps, i)
	}
	a, err := attack.New(ap.Name, cfg)
	if err != nil {
		return nil, err
	}
	xb, err := e.images(key.Batch)
	if err != nil {
		return nil, err
	}
	lo, _ := e.batch(key.Batch)
	in := make([]int, len(idx))
	for j, i := range idx {
		in[j] = i - lo
	}
	xs := rows(xb, in)
	ys := make([]int, len(idx))
	for j, i := range idx {
		ys[j] = e.y[i]
	}
	adv, err := a.Perturb(ctx, e.m, xs, ys)
	noGrad := errors.Is(err, attack.ErrNoGradient)
	switch {
	case noGrad:
		adv = xs
	case err != nil:
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%s at eps %g: %w", ap.Spec, key.Eps, err)
	}
	var pred []int
	err = autograd.Try(func() {
		autograd.NoGrad(func() {
			logits, _ := e.m.Forward(autograd.Const(adv), nn.Eval)
			pred = autograd.ArgMax(logits, 1)
		})
	})
	if err != nil {
		return nil, err
	}
	xf, af := xs.F32(), adv.AsType(tensor.Float32).F32()
	for j, i := range idx {
		var linf, s float64
		outside := false
		for k := j * e.per; k < (j+1)*e.per; k++ {
			d := math.Abs(float64(af[k] - xf[k]))
			linf = math.Max(linf, d)
			s += d * d
			outside = outside || !(af[k] >= -budgetTol && af[k] <= 1+budgetTol)
		}
		l2 := math.Sqrt(s)
		oob := !(key.Norm == "linf" && linf <= key.Eps+budgetTol || key.Norm == "l2" && l2 <= key.Eps*(1+budgetTol)+budgetTol)
		u.Images = append(u.Images, ImageResult{I: i, Pred: pred[j], Linf: linf, L2: l2, OOB: oob, Range: outside, NoGrad: noGrad,
			Broken: pred[j] != e.y[i] && !oob && !outside})
	}
	u.Seconds = time.Since(t0).Seconds()
	return u, nil
}

// correct returns the correctly classified images of a clean unit whose
// batch starts at image lo.
func (u *Unit) correct(lo int, y []int) []int {
	var out []int
	for j, p := range u.Pred {
		if p == y[lo+j] {
			out = append(out, lo+j)
		}
	}
	return out
}

// unbroken returns the images of idx that u did not break.
func (u *Unit) unbroken(idx []int) []int {
	broken := map[int]bool{}
	for _, im := range u.Images {
		if im.Broken {
			broken[im.I] = true
		}
	}
	var out []int
	for _, i := range idx {
		if !broken[i] {
			out = append(out, i)
		}
	}
	return out
}

// attacked checks that u attacked exactly the images idx (in order).
func (u *Unit) attacked(idx []int) error {
	ok := len(u.Images) == len(idx)
	for j := 0; ok && j < len(idx); j++ {
		ok = u.Images[j].I == idx[j]
	}
	if !ok {
		got := make([]int, len(u.Images))
		for j, im := range u.Images {
			got[j] = im.I
		}
		return fmt.Errorf("unit %v attacked images %s, but this evaluation attacks %s there: the records come from another evaluation or are corrupt", u.UnitKey, short(got), short(idx))
	}
	return nil
}

// sameClean checks a stored clean unit against a recomputed one.
func sameClean(old, now *Unit, lo int) error {
	switch {
	case old.DataSHA256 != now.DataSHA256:
		return fmt.Errorf("batch %d (images from %d): the images or labels differ from those of the records", now.Batch, lo)
	case !slices.Equal(old.Pred, now.Pred):
		return fmt.Errorf("batch %d (images from %d): the model's clean predictions differ from those of the records (another model?)", now.Batch, lo)
	case !slices.Equal(old.ZeroGrad, now.ZeroGrad) || !slices.Equal(old.NonFiniteGrad, now.NonFiniteGrad):
		return fmt.Errorf("batch %d (images from %d): the model's input gradients differ from those of the records (another model?)", now.Batch, lo)
	}
	return nil
}

package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/explain"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
	"github.com/arp-robustness/arp/tensor"
)

// Study is one run of the attention-under-attack analysis: a model, a
// dataset, a configuration and an output directory.
type Study struct {
	Model    nn.Classifier
	ModelRef ModelRef
	// Data is read a batch at a time (data.FromDataset for a dataset in
	// memory): a study holds one batch's images, never the whole dataset.
	Data     *data.Source
	DataSpec string
	Config   Config
	// Dir receives analysis.json and records.jsonl.
	Dir string
	// Version is the arp version recorded in the header.
	Version string
	// Progress, when set, is called after every batch with the number of
	// images done (including those recorded by an earlier, interrupted
	// run) and the total.
	Progress func(done, total int)
	// Shard, when set, analyses only that shard's batches (package
	// shard) into Dir; Merge combines the directories of all shards into
	// the analysis one Run of the whole study writes.
	Shard shard.Spec
	// Lock is the caller's lock on Dir (rundir.LockDir), held from before
	// it looked at Dir until after Run; nil: Run locks Dir for its own
	// duration. Either way, no other process writes Dir while Run does.
	Lock *rundir.Lock

	once   sync.Once
	runner *batchRunner
	err    error
}

// ErrSettingsChanged is wrapped when an analysis directory was made with
// other settings than the ones given.
var ErrSettingsChanged = errors.New("the analysis directory was made with other settings")

// Run analyses every image not yet recorded in s.Dir and returns the
// header. It streams one record per image to records.jsonl, a batch at a
// time; if it is interrupted (ctx cancelled, or the process killed), running
// it again with the same settings continues after the last complete batch
// and gives the same records as an uninterrupted run.
func (s *Study) Run(ctx context.Context) (*Header, error) {
	r, err := s.plan()
	if err != nil {
		return nil, err
	}
	cfg, total := r.cfg, r.h.Data.Images
	h := *r.h
	nb := shard.Count(total, cfg.BatchSize)
	blo, bhi, err := s.Shard.Batches(nb)
	if err != nil {
		return nil, err
	}
	if !s.Shard.Whole() {
		h.Shard = &ShardInfo{Spec: s.Shard.String(), Lo: blo, Hi: bhi}
	}
	release, err := rundir.Hold(s.Lock, s.Dir)
	if err != nil {
		return nil, err
	}
	defer release()
	done, gallery, err := s.prepare(&h)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, rundir.AnalysisRecords), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lo0, hi0 := shard.Images(blo, bhi, cfg.BatchSize, total)
	want := hi0 - lo0
	count := 0
	for b := blo; b < bhi; b++ {
		if done[b] {
			lo, hi := shard.Images(b, b+1, cfg.BatchSize, total)
			count += hi - lo
		}
	}
	if s.Progress != nil {
		s.Progress(count, want)
	}
	for b := blo; b < bhi; b++ {
		if done[b] {
			continue
		}
		lo, hi := shard.Images(b, b+1, cfg.BatchSize, total)
		recs, err := r.batch(ctx, b, lo, hi, gallery)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("analysis interrupted after %d of %d images (%v); run the same command again to resume", count, want, ctx.Err())
			}
			return nil, fmt.Errorf("batch %d (images %d-%d): %w", b, lo, hi-1, err)
		}
		buf, err := encodeRecords(recs)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		count += hi - lo
		if s.Progress != nil {
			s.Progress(count, want)
		}
	}
	return &h, f.Close()
}

// Header returns the header of the whole study (also when s is a shard).
func (s *Study) Header() (*Header, error) {
	r, err := s.plan()
	if err != nil {
		return nil, err
	}
	h := *r.h
	return &h, nil
}

// Work analyses batches [lo, hi) of the study in memory and returns their
// records, with gallery images on the first examples of each attack and
// outcome from batch lo on (Combine keeps those of the whole study): the
// per-image work of Run, for engines that run it elsewhere (arp-beam).
func (s *Study) Work(ctx context.Context, lo, hi int) ([]*Record, error) {
	r, err := s.plan()
	if err != nil {
		return nil, err
	}
	total := r.h.Data.Images
	nb := shard.Count(total, r.cfg.BatchSize)
	if lo < 0 || hi > nb || lo >= hi {
		ilo, ihi := shard.Images(lo, hi, r.cfg.BatchSize, total)
		return nil, fmt.Errorf("analysis: batches %d-%d (images %d-%d) are outside the %d batches of %d images of this study", lo, hi-1, ilo, ihi-1, nb, total)
	}
	gallery := newGalleryCount()
	var out []*Record
	for b := lo; b < hi; b++ {
		ilo, ihi := shard.Images(b, b+1, r.cfg.BatchSize, total)
		recs, err := r.batch(ctx, b, ilo, ihi, gallery)
		if err != nil {
			return nil, fmt.Errorf("batch %d (images %d-%d): %w", b, ilo, ihi-1, err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// encodeRecords writes records as JSON lines.
func encodeRecords(recs []*Record) ([]byte, error) {
	var buf bytes.Buffer
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("image %d: %v", rec.Index, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// plan validates the study and builds its header and its batch runner,
// once.
func (s *Study) plan() (*batchRunner, error) {
	s.once.Do(func() { s.runner, s.err = s.newRunner() })
	return s.runner, s.err
}

func (s *Study) newRunner() (*batchRunner, error) {
	cfg := s.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s.Model == nil || s.Data == nil {
		return nil, fmt.Errorf("analysis: no model or no images")
	}
	ds := s.Data
	if err := nn.CheckInput(s.Model, []int{1, ds.C, ds.H, ds.W}); err != nil {
		return nil, fmt.Errorf("model and dataset %s do not fit: %v", ds.Name, err)
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("analysis: no model or no images")
	}
	if len(ds.Classes) > 0 && len(ds.Classes) != s.Model.NumClasses() {
		return nil, fmt.Errorf("model has %d classes, dataset %s has %d", s.Model.NumClasses(), ds.Name, len(ds.Classes))
	}
	if s.ModelRef.Info != nil && len(s.ModelRef.Info.ClassNames) > 0 && len(ds.Classes) > 0 && !reflect.DeepEqual(s.ModelRef.Info.ClassNames, ds.Classes) {
		return nil, fmt.Errorf("model classes %v differ from dataset %s classes %v", s.ModelRef.Info.ClassNames, ds.Name, ds.Classes)
	}
	total := ds.Len()
	if cfg.Limit > 0 && cfg.Limit < total {
		total = cfg.Limit
	}
	mp, err := s.mapper(cfg)
	if err != nil {
		return nil, err
	}
	h, err := s.header(cfg, mp, total)
	if err != nil {
		return nil, err
	}
	specs := make([]*attack.Spec, len(cfg.Attacks))
	for i, a := range cfg.Attacks {
		if specs[i], err = cfg.attack(a, cfg.Seed); err != nil {
			return nil, err
		}
	}
	return &batchRunner{s: s, h: h, cfg: cfg, mp: mp, specs: specs}, nil
}

// mapper builds the attention method.
func (s *Study) mapper(cfg Config) (mapper, error) {
	if cfg.Method == "lime" {
		return &limeMapper{model: s.Model, samples: cfg.LIMESamples, segments: cfg.LIMESegments, meanHide: cfg.LIMEMeanHide}, nil
	}
	meth, err := camMethod(cfg.Method)
	if err != nil {
		return nil, err
	}
	if meth, err = attention.WithScaling(meth, cfg.CAMScale); err != nil {
		return nil, err
	}
	layer := cfg.Layer
	if layer == "" {
		layer = nn.DefaultAttentionLayer(s.Model)
	}
	if layer == "" {
		return nil, fmt.Errorf("no attention layer given and the model has no default; layers: %v", s.Model.LayerNames())
	}
	if err := nn.CheckLayer(s.Model, layer); err != nil {
		return nil, err
	}
	return &camMapper{model: s.Model, method: meth, lay: layer}, nil
}

// header describes the study; it probes the map size with one image.
func (s *Study) header(cfg Config, mp mapper, total int) (*Header, error) {
	ds := s.Data
	h := &Header{Format: Format, Config: cfg, Model: s.ModelRef, Layer: mp.layer(),
		Data: DataRef{Spec: s.DataSpec, Name: ds.Name, C: ds.C, H: ds.H, W: ds.W, Classes: ds.Classes,
			Images: total, Total: ds.Len(), Truth: ds.Truth, Preprocessing: ds.Preprocessing},
		Created: time.Now().UTC().Format(time.RFC3339)}
	h.Version = s.Version
	if cfg.Method == "lime" {
		h.MapH, h.MapW = ds.H, ds.W
	} else {
		first, err := ds.Read(0, 1)
		if err != nil {
			return nil, err
		}
		x := tensor.FromFloat32(first.Images, 1, ds.C, ds.H, ds.W)
		mb, err := mp.maps(context.Background(), x, []int{ds.Labels[0]}, []uint64{0})
		if err != nil {
			return nil, err
		}
		h.MapH, h.MapW = mb.H, mb.W
	}
	if cfg.Method != "lime" && cfg.TopK > h.MapH*h.MapW {
		return nil, &SettingError{"topk", cfg.TopK, fmt.Sprintf("more than the %d cells of the %dx%d attention map", h.MapH*h.MapW, h.MapH, h.MapW)}
	}
	h.TopK = resolveTopK(cfg.TopK, h.MapH*h.MapW, cfg.Method == "lime")
	for _, a := range cfg.Attacks {
		// the seed the attack runs with (batch seeds its images from it)
		sp, err := cfg.attack(a, cfg.Seed)
		if err != nil {
			return nil, err
		}
		atk, _ := attack.New(sp.Name, sp.Config)
		h.Attacks = append(h.Attacks, AttackInfo{Key: a, Name: sp.Name, Settings: jsonSafe(atk.Settings()),
			Traced: traced[sp.Name] && sp.Config.Targeting == ""})
	}
	return h, nil
}

// jsonSafe round-trips settings through JSON so that the header compares
// equal to one read back from disk.
func jsonSafe(m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// prepare writes the header of a new analysis, or checks the header of an
// existing one and drops the records of an incomplete last batch. It
// returns the completed batches and the gallery counts so far.
func (s *Study) prepare(h *Header) (map[int]bool, *galleryCount, error) {
	hp, rp := filepath.Join(s.Dir, rundir.AnalysisHeader), filepath.Join(s.Dir, rundir.AnalysisRecords)
	gallery := newGalleryCount()
	old, err := ReadHeader(s.Dir)
	if errors.Is(err, ErrNoAnalysis) {
		if _, err := os.Stat(rp); err == nil {
			return nil, nil, fmt.Errorf("%s exists but %s is missing; remove it or choose another output directory", rp, rundir.AnalysisHeader)
		}
		b, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			return nil, nil, err
		}
		if err := checkpoint.AtomicWriteFile(hp, append(b, '\n'), 0o644); err != nil {
			return nil, nil, err
		}
		return map[int]bool{}, gallery, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if diff := h.differs(old); diff != "" {
		return nil, nil, fmt.Errorf("%s: %w (%s); use another output directory, or remove it to start over", s.Dir, ErrSettingsChanged, diff)
	}
	h.Created = old.Created
	recs, starts, valid, err := readRecordsFile(rp)
	if errors.Is(err, fs.ErrNotExist) {
		return map[int]bool{}, gallery, nil
	}
	if err != nil {
		return nil, nil, err
	}
	// Batches are written whole and in order, so only the last one can be
	// incomplete: keep the complete ones and cut the file where the first
	// incomplete batch starts.
	size := h.Config.BatchSize
	count := map[int]int{}
	first := map[int]int64{}
	for i, r := range recs {
		if r.Index >= h.Data.Images || r.Index/size != r.Batch {
			return nil, nil, fmt.Errorf("%s: image %d does not belong to batch %d of this analysis (%d images, batches of %d)", rp, r.Index, r.Batch, h.Data.Images, size)
		}
		if sh := h.Shard; sh != nil && (r.Batch < sh.Lo || r.Batch >= sh.Hi) {
			return nil, nil, fmt.Errorf("%s: image %d lies outside the batches %d-%d of shard %s", rp, r.Index, sh.Lo, sh.Hi-1, sh.Spec)
		}
		if _, ok := first[r.Batch]; !ok {
			first[r.Batch] = starts[i]
		}
		count[r.Batch]++
	}
	done := map[int]bool{}
	cut := valid
	for b, n := range count {
		want := min(size, h.Data.Images-b*size)
		switch {
		case n == want:
			done[b] = true
		case n < want:
			cut = min(cut, first[b])
		default:
			return nil, nil, fmt.Errorf("%s: batch %d has %d records, want %d", rp, b, n, want)
		}
	}
	for b := range done {
		if first[b] >= cut {
			delete(done, b)
		}
	}
	if err := os.Truncate(rp, cut); err != nil {
		return nil, nil, err
	}
	for _, r := range recs {
		if done[r.Batch] && r.Image != "" {
			gallery.add(r)
		}
	}
	return done, gallery, nil
}

// differs describes how two headers' settings differ ("" if they match).
func (h *Header) differs(old *Header) string {
	ja, _ := json.Marshal(h.Config)
	jb, _ := json.Marshal(old.Config)
	switch {
	case !bytes.Equal(ja, jb):
		return fmt.Sprintf("settings %s, before %s", ja, jb)
	case h.Model.WeightsSHA256 != old.Model.WeightsSHA256:
		return "the model's weights changed"
	case h.Data.Spec != old.Data.Spec || h.Data.Images != old.Data.Images || h.Data.Name != old.Data.Name:
		return fmt.Sprintf("data %s (%d images), before %s (%d images)", h.Data.Spec, h.Data.Images, old.Data.Spec, old.Data.Images)
	case !reflect.DeepEqual(h.Shard, old.Shard):
		return fmt.Sprintf("%s, before %s", h.Shard.describe(), old.Shard.describe())
	}
	return ""
}

// galleryCount counts kept examples per attack and outcome.
type galleryCount struct{ n map[string][2]int }

func newGalleryCount() *galleryCount { return &galleryCount{n: map[string][2]int{}} }

func (g *galleryCount) wants(r *Record, limit int) bool {
	for k, a := range r.Attacks {
		if g.n[k][b2i(a.Success)] < limit {
			return true
		}
	}
	return false
}

func (g *galleryCount) add(r *Record) {
	for k, a := range r.Attacks {
		c := g.n[k]
		c[b2i(a.Success)]++
		g.n[k] = c
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// batchRunner analyses batches.
type batchRunner struct {
	s     *Study
	h     *Header
	cfg   Config
	mp    mapper
	specs []*attack.Spec
}

// seed mixes the study seed with a batch and a stream number.
func seed(base uint64, b, stream int) uint64 {
	z := base + 0x9e3779b97f4a7c15*uint64(b+1) + 0xbf58476d1ce4e5b9*uint64(stream+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// attackSeeds returns the seeds of the images idx under attack key: every
// random choice derives from the study's seed (or the spec's own), the
// attack and the image's index, not from its batch.
func attackSeeds(base uint64, key string, idx []int) []uint64 {
	h := fnv.New32a()
	h.Write([]byte(key))
	stream := 2000 + int(h.Sum32()>>1)
	out := make([]uint64, len(idx))
	for j, i := range idx {
		out[j] = seed(base, i, stream)
	}
	return out
}

// batch analyses images [lo, hi) (batch b), keeping gallery images on the
// records gallery still wants.
func (r *batchRunner) batch(ctx context.Context, b, lo, hi int, gallery *galleryCount) ([]*Record, error) {
	ds, err := r.s.Data.Read(lo, hi)
	if err != nil {
		return nil, err
	}
	per := ds.ImageSize()
	n := hi - lo
	x := tensor.FromFloat32(ds.Images, n, ds.C, ds.H, ds.W)
	labels := ds.Labels
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = seed(r.cfg.Seed, lo+i, 1000)
	}
	clean, err := r.mp.maps(ctx, x, labels, seeds)
	if err != nil {
		return nil, err
	}
	recs := make([]*Record, n)
	var keep []int
	for i := 0; i < n; i++ {
		rec := &Record{Index: lo + i, Batch: b, Label: labels[i], Pred: clean.Pred[i], Conf: Num(clean.Probs[i][labels[i]])}
		if clean.Pred[i] != labels[i] {
			rec.Skipped = "misclassified"
		} else {
			keep = append(keep, i)
		}
		recs[i] = rec
	}
	if len(keep) == 0 {
		return recs, nil
	}
	xc := rows(x, keep)
	yc := make([]int, len(keep))
	cseeds := make([]uint64, len(keep))
	for j, i := range keep {
		yc[j] = labels[i]
		cseeds[j] = seeds[i]
	}
	truth := make([][]bool, len(keep))
	cleanMasks := make([]masks, len(keep))
	for j, i := range keep {
		truth[j] = ds.Mask(i)
		rec := recs[i]
		if truth[j] != nil {
			rec.TruthArea = Num(float64(mask.Count(truth[j])) / float64(len(truth[j])))
		}
		rec.Clean, cleanMasks[j] = r.describe(clean.Coarse[i], clean.Up[i], truth[j])
		rec.Attacks = map[string]*AttackRecord{}
	}
	cleanSub := &explain.Maps{}
	for _, i := range keep {
		cleanSub.Coarse = append(cleanSub.Coarse, clean.Coarse[i])
		cleanSub.Up = append(cleanSub.Up, clean.Up[i])
		cleanSub.Probs = append(cleanSub.Probs, clean.Probs[i])
	}
	advImages := make([]*tensor.Tensor, len(r.specs))
	for ai, sp := range r.specs {
		cfg := sp.Config // its Seed: the spec's own, or else the study's
		idx := make([]int, len(keep))
		for j, i := range keep {
			idx[j] = lo + i
		}
		cfg.Seeds = attackSeeds(cfg.Seed, sp.Text, idx)
		atk, err := attack.New(sp.Name, cfg)
		if err != nil {
			return nil, err
		}
		adv, err := atk.Perturb(ctx, r.s.Model, xc, yc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sp.Text, err)
		}
		adv = adv.AsType(tensor.Float32)
		advImages[ai] = adv
		am, err := r.mp.maps(ctx, adv, yc, cseeds)
		if err != nil {
			return nil, fmt.Errorf("%s: adversarial maps: %w", sp.Text, err)
		}
		var trace [][]stepPoint
		if info, _ := r.h.Attack(sp.Text); info.Traced {
			trace, err = r.trace(ctx, sp, xc, yc, cleanSub, cleanMasks, cseeds)
			if err != nil {
				return nil, fmt.Errorf("%s: per-step trace: %w", sp.Text, err)
			}
		}
		xs, as := xc.F32(), adv.F32()
		for j, i := range keep {
			ar := &AttackRecord{Pred: am.Pred[j], Success: am.Pred[j] != yc[j],
				ConfTrue: Num(am.Probs[j][yc[j]]), ConfPred: Num(am.Probs[j][am.Pred[j]])}
			linf := 0.0
			for p := j * per; p < (j+1)*per; p++ {
				linf = math.Max(linf, math.Abs(float64(as[p]-xs[p])))
			}
			ar.Linf = Num(linf)
			var advMasks masks
			ar.Adv, advMasks = r.describe(am.Coarse[j], am.Up[j], truth[j])
			ar.IoU = Num(mask.IoU(cleanMasks[j].mean, advMasks.mean))
			ar.IoUTopK = Num(mask.IoU(cleanMasks[j].topk, advMasks.topk))
			ar.RankCorr = Num(mask.SpearmanRank(clean.Coarse[i], am.Coarse[j]))
			ar.CentroidShift = Num(mask.CentroidShift(clean.Up[i], am.Up[j], ds.H, ds.W))
			if trace != nil {
				for _, p := range trace[j] {
					ar.StepIoU = append(ar.StepIoU, Num(p.iou))
					ar.StepIoUTopK = append(ar.StepIoUTopK, Num(p.iouTopK))
					ar.StepSuccess = append(ar.StepSuccess, p.success)
					ar.StepConf = append(ar.StepConf, Num(p.conf))
					ar.StepComponents = append(ar.StepComponents, p.components)
					ar.StepLinf = append(ar.StepLinf, Num(p.linf))
				}
			}
			recs[i].Attacks[sp.Text] = ar
		}
	}
	if r.cfg.Gallery > 0 {
		for j, i := range keep {
			rec := recs[i]
			if !gallery.wants(rec, r.cfg.Gallery) {
				continue
			}
			rec.Image = EncodeImage(xc.F32()[j*per : (j+1)*per])
			if truth[j] != nil {
				rec.Truth = EncodeMask(truth[j])
			}
			for ai, sp := range r.specs {
				rec.Attacks[sp.Text].Image = EncodeImage(advImages[ai].F32()[j*per : (j+1)*per])
			}
			gallery.add(rec)
		}
	}
	return recs, nil
}

// masks are the binary attention regions of one map.
type masks struct{ mean, topk []bool }

// describe measures one map against the ground truth (nil: none).
func (r *batchRunner) describe(coarse, up []float32, truth []bool) (*MapStats, masks) {
	h := r.h
	H, W := h.Data.H, h.Data.W
	ms := masks{mean: mask.MeanThreshold(up, H, W), topk: h.TopKMask(coarse)}
	st := &MapStats{Map: Map(coarse)}
	nan := Num(math.NaN())
	st.Coverage, st.IoUTruth, st.CoverageTopK, st.CoverageArea = nan, nan, nan, nan
	if truth != nil && mask.Count(truth) > 0 {
		st.Coverage = Num(mask.Coverage(ms.mean, truth))
		st.IoUTruth = Num(mask.IoU(ms.mean, truth))
		st.CoverageTopK = Num(mask.Coverage(ms.topk, truth))
		st.CoverageArea = Num(mask.Coverage(mask.AreaMatched(up, mask.Count(truth)), truth))
		p := mask.PointingGame(up, H, W, truth, 0)
		st.Pointing = &p
	}
	sc := mask.Scatter(ms.mean, H, W, mask.Eight)
	st.Area = Num(float64(sc.Area) / float64(H*W))
	st.Components = sc.Components
	st.LargestShare = Num(sc.LargestShare)
	st.Entropy = Num(mask.NormalizedEntropy(coarse))
	return st, ms
}

// rows copies images idx of x into a new batch.
func rows(x *tensor.Tensor, idx []int) *tensor.Tensor {
	sh := x.Shape()
	per := sh[1] * sh[2] * sh[3]
	src := x.F32()
	out := make([]float32, 0, len(idx)*per)
	for _, i := range idx {
		out = append(out, src[i*per:(i+1)*per]...)
	}
	return tensor.FromFloat32(out, len(idx), sh[1], sh[2], sh[3])
}

// Estimate runs the per-image work of the study on its first k images
// twice (in memory, nothing written; the second run is timed) and returns the time the whole study (or
// shard) would take at that rate, and the rate: a quick measurement for
// long analyses to say up front how long they take.
func (s *Study) Estimate(ctx context.Context, k int) (total, perImage time.Duration, err error) {
	h, err := s.Header()
	if err != nil {
		return 0, 0, err
	}
	k = max(1, min(k, h.Data.Images))
	cfg := s.Config
	cfg.Limit, cfg.BatchSize, cfg.Gallery = k, k, 0
	probe := &Study{Model: s.Model, ModelRef: s.ModelRef, Data: s.Data, DataSpec: s.DataSpec, Config: cfg, Version: s.Version}
	// the first pass of a process is slower (buffers, BLAS start-up):
	// measure the second
	for rep := 0; rep < 2; rep++ {
		start := time.Now()
		if _, err := probe.Work(ctx, 0, 1); err != nil {
			return 0, 0, err
		}
		perImage = time.Since(start) / time.Duration(k)
	}
	images := h.Data.Images
	if !s.Shard.Whole() {
		nb := shard.Count(images, s.Config.WithDefaults().BatchSize)
		lo, hi, err := s.Shard.Batches(nb)
		if err != nil {
			return 0, 0, err
		}
		ilo, ihi := shard.Images(lo, hi, s.Config.WithDefaults().BatchSize, images)
		images = ihi - ilo
	}
	return perImage * time.Duration(images), perImage, nil
}

package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
)

// Combine checks that recs hold every image of the study h exactly once
// and returns them in index order as Run writes them: gallery images kept
// on the first Config.Gallery examples of each attack and outcome of the
// whole study, dropped from the others. Records made by shards or by
// arp-beam's workers carry the gallery images of their own first examples,
// a superset of these (an image the whole study keeps is among the first
// of its part too), so a kept record without its images is an error.
func Combine(h *Header, recs []*Record) ([]*Record, error) {
	n, size := h.Data.Images, h.Config.BatchSize
	if n < 1 || size < 1 {
		return nil, fmt.Errorf("analysis: header with %d images in batches of %d", n, size)
	}
	byIndex := make([]*Record, n)
	for _, r := range recs {
		switch {
		case r.Index < 0 || r.Index >= n:
			return nil, fmt.Errorf("analysis: image %d is outside the study's %d images", r.Index, n)
		case r.Batch != r.Index/size:
			return nil, fmt.Errorf("analysis: image %d recorded in batch %d, not %d", r.Index, r.Batch, r.Index/size)
		case byIndex[r.Index] != nil:
			return nil, fmt.Errorf("analysis: image %d is recorded twice", r.Index)
		}
		byIndex[r.Index] = r
	}
	if len(recs) < n {
		for i, r := range byIndex {
			if r == nil {
				return nil, fmt.Errorf("analysis: image %d (batch %d) is not recorded: %d of %d images are", i, i/size, len(recs), n)
			}
		}
	}
	gallery := newGalleryCount()
	out := make([]*Record, n)
	for i, r := range byIndex {
		c := *r
		if h.Config.Gallery > 0 && gallery.wants(r, h.Config.Gallery) {
			if r.Image == "" {
				return nil, fmt.Errorf("analysis: image %d belongs in the gallery but its record has no image", i)
			}
			gallery.add(r)
		} else if r.Image != "" {
			c.Image, c.Truth = "", ""
			c.Attacks = make(map[string]*AttackRecord, len(r.Attacks))
			for k, a := range r.Attacks {
				ac := *a
				ac.Image = ""
				c.Attacks[k] = &ac
			}
		}
		out[i] = &c
	}
	return out, nil
}

// Merge combines the directories of the shards of one study (arp analyze
// --shard i/N) into dir: analysis.json and records.jsonl as one Run of the
// whole study writes them (the records bit for bit). The shards must come
// from the same study, hold every batch exactly once between them and be
// complete; otherwise the error names the directory or the missing images
// and dir is left as it was. It returns the merged header; Summarize(dir)
// then gives the statistics.
func Merge(dir string, shards []string) (*Header, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("analysis: no shard directories to merge")
	}
	type part struct {
		dir    string
		lo, hi int
		spec   string
	}
	var h *Header
	var parts []part
	var recs []*Record
	for _, d := range shards {
		if same, _ := sameDir(d, dir); same {
			return nil, fmt.Errorf("%s is one of the shards; merge into another directory", dir)
		}
		if err := rundir.DirBusy(d); err != nil {
			return nil, err // a shard still running
		}
		sh, err := ReadHeader(d)
		if err != nil {
			return nil, err
		}
		whole := shard.Count(sh.Data.Images, sh.Config.BatchSize)
		p := part{dir: d, lo: 0, hi: whole, spec: "the whole study"}
		if sh.Shard != nil {
			p = part{dir: d, lo: sh.Shard.Lo, hi: sh.Shard.Hi, spec: "shard " + sh.Shard.Spec}
		}
		if p.lo < 0 || p.hi > whole || p.lo >= p.hi {
			return nil, fmt.Errorf("%s: %s holds batches %d-%d, outside the study's %d batches", d, p.spec, p.lo, p.hi-1, whole)
		}
		if h == nil {
			h = sh
		} else if diff := sameStudy(h, sh); diff != "" {
			return nil, fmt.Errorf("%s belongs to another study than %s (%s)", d, parts[0].dir, diff)
		}
		rp := filepath.Join(d, rundir.AnalysisRecords)
		rs, _, valid, err := readRecordsFile(rp)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(rp); err == nil && fi.Size() != valid {
			return nil, fmt.Errorf("%s ends in a line cut short: %s was interrupted; run it again (it resumes) before merging", rp, p.spec)
		}
		lo, hi := shard.Images(p.lo, p.hi, h.Config.BatchSize, h.Data.Images)
		seen := make(map[int]bool, hi-lo)
		for _, r := range rs {
			if r.Index < lo || r.Index >= hi {
				return nil, fmt.Errorf("%s: image %d lies outside the images %d-%d of %s", rp, r.Index, lo, hi-1, p.spec)
			}
			if seen[r.Index] {
				return nil, fmt.Errorf("%s: image %d is recorded twice", rp, r.Index)
			}
			seen[r.Index] = true
		}
		if len(rs) < hi-lo {
			return nil, fmt.Errorf("%s (%s) is incomplete: %d of its %d images are recorded; run it again (it resumes) before merging", d, p.spec, len(rs), hi-lo)
		}
		parts = append(parts, p)
		recs = append(recs, rs...)
	}
	slices.SortFunc(parts, func(a, b part) int { return a.lo - b.lo })
	next := 0
	for _, p := range parts {
		switch {
		case p.lo < next:
			return nil, fmt.Errorf("shards overlap: %s (%s) holds batches %d-%d, which another directory also holds", p.dir, p.spec, p.lo, p.hi-1)
		case p.lo > next:
			lo, hi := shard.Images(next, p.lo, h.Config.BatchSize, h.Data.Images)
			return nil, fmt.Errorf("no shard holds batches %d-%d (images %d-%d): a shard is missing", next, p.lo-1, lo, hi-1)
		}
		next = p.hi
	}
	if nb := shard.Count(h.Data.Images, h.Config.BatchSize); next < nb {
		lo, hi := shard.Images(next, nb, h.Config.BatchSize, h.Data.Images)
		return nil, fmt.Errorf("no shard holds batches %d-%d (images %d-%d): a shard is missing", next, nb-1, lo, hi-1)
	}
	out, err := Combine(h, recs)
	if err != nil {
		return nil, err
	}
	merged := *h
	merged.Shard = nil
	if err := writeAnalysis(dir, &merged, out); err != nil {
		return nil, err
	}
	return &merged, nil
}

// Files returns the files of a complete analysis by name: analysis.json
// and records.jsonl of h and recs (as Combine returns them), and the
// summary's summary.json and summary.md: what arp-beam writes to its
// output directory.
func Files(h *Header, recs []*Record) (map[string][]byte, error) {
	s, err := Compute(h, recs)
	if err != nil {
		return nil, err
	}
	files, err := s.Files()
	if err != nil {
		return nil, err
	}
	hb, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	files[rundir.AnalysisHeader] = append(hb, '\n')
	if files[rundir.AnalysisRecords], err = encodeRecords(recs); err != nil {
		return nil, err
	}
	return files, nil
}

// writeAnalysis writes a complete analysis into dir, each file atomically;
// summaries of an earlier analysis there are removed first, so that no
// stale summary sits next to the new records.
func writeAnalysis(dir string, h *Header, recs []*Record) error {
	hb, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	rb, err := encodeRecords(recs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{rundir.AnalysisJSON, rundir.AnalysisMD} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := checkpoint.AtomicWriteFile(filepath.Join(dir, rundir.AnalysisRecords), rb, 0o644); err != nil {
		return err
	}
	return checkpoint.AtomicWriteFile(filepath.Join(dir, rundir.AnalysisHeader), append(hb, '\n'), 0o644)
}

// sameStudy describes how two shards' headers differ, apart from which
// shard they are and when they were made ("" if they do not).
func sameStudy(a, b *Header) string {
	ca, cb := *a, *b
	ca.Shard, cb.Shard, ca.Created, cb.Created = nil, nil, "", ""
	ja, _ := json.Marshal(&ca)
	jb, _ := json.Marshal(&cb)
	if string(ja) == string(jb) {
		return ""
	}
	if d := ca.differs(&cb); d != "" {
		return d
	}
	return "headers differ: layer, map size, top-k, attacks or arp version"
}

// sameDir reports whether two paths name the same existing directory.
func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

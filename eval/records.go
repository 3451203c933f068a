package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
)

// RecordsFormat names the format of record files (the --state file of arp
// eval, and a shard's output): JSON lines, a header line describing the
// evaluation and the batches the file covers, then one line per finished
// unit.
const RecordsFormat = "arp-eval-records/2"

// Header describes an evaluation: everything Combine needs besides the
// units. Record files that resume or merge into an evaluation must carry
// the same header.
type Header struct {
	Model string `json:"model"`
	// ModelID fingerprints the model (Options.ModelID), "" if not given.
	ModelID    string `json:"model_id,omitempty"`
	Data       string `json:"data"`
	Images     int    `json:"images"`
	DataImages int    `json:"data_images"`
	Limit      int    `json:"limit,omitempty"`
	// Subset and TrainingSeed are Options.Subset and Options.TrainingSeed.
	Subset       *Subset `json:"subset,omitempty"`
	TrainingSeed *uint64 `json:"training_seed,omitempty"`
	Classes      int     `json:"classes"`
	Standalone   bool    `json:"standalone"`
	BatchSize    int     `json:"batch_size"`
	Seed         uint64  `json:"seed"`
	// CheckImages is the size of the sanity-check subset (0: none).
	CheckImages      int          `json:"check_images"`
	AttentionTrained bool         `json:"attention_trained"`
	Scale            Scale        `json:"input_scale"`
	Attacks          []string     `json:"attacks"`
	Threats          []ThreatPlan `json:"threats"`
	Unbounded        AttackPlan   `json:"unbounded"`
}

// ThreatPlan is one threat model of an evaluation and its attacks.
type ThreatPlan struct {
	Norm    string       `json:"norm"`
	Eps     float64      `json:"eps"`
	Attacks []AttackPlan `json:"attacks"`
	// Checks are attacks the sanity checks need and the list lacks, run
	// on the check subset only (Index CheckAttack - k for the k-th): an
	// untargeted single-step attack (FGSM) when the list has untargeted
	// iterative attacks but no untargeted single-step one.
	Checks []AttackPlan `json:"checks,omitempty"`
}

// CheckAttack is the AttackPlan.Index of the first attack of
// ThreatPlan.Checks (the next ones count down from it).
const CheckAttack = -2

// AttackPlan is one attack of a threat model.
type AttackPlan struct {
	Index    int            `json:"index"` // into Header.Attacks; -1: the unbounded PGD
	Name     string         `json:"name"`
	Spec     string         `json:"spec"`
	Settings map[string]any `json:"settings"`

	config   attack.Config // the spec's configuration (not in files)
	specSeed uint64
}

// UnitKey identifies a unit of work: one attack at one budget on one batch
// in a phase ("main"; "subset": the standalone runs on the sanity-check
// subset in cascade mode; "unbounded": the unbounded PGD), or the clean
// pass of a batch (phase "clean").
type UnitKey struct {
	Phase  string  `json:"phase"`
	Attack int     `json:"attack"` // index into the attack list (-1: the unbounded PGD; CheckAttack and below: ThreatPlan.Checks)
	Norm   string  `json:"norm"`
	Eps    float64 `json:"eps"`
	Batch  int     `json:"batch"`
}

func (k UnitKey) String() string {
	switch k.Phase {
	case "clean":
		return fmt.Sprintf("clean pass of batch %d", k.Batch)
	case "unbounded":
		return fmt.Sprintf("unbounded check on batch %d", k.Batch)
	}
	return fmt.Sprintf("%s attack %d at %s eps %g on batch %d", k.Phase, k.Attack, k.Norm, k.Eps, k.Batch)
}

// ImageResult is the outcome of one attacked image.
type ImageResult struct {
	I      int     `json:"i"`                // index of the image in the evaluated set
	Broken bool    `json:"broken"`           // misclassified within the budget
	Pred   int     `json:"pred"`             // prediction on the adversarial image
	Linf   float64 `json:"linf"`             // distances on the [0,1] pixel scale
	L2     float64 `json:"l2"`               //
	OOB    bool    `json:"oob,omitempty"`    // outside the budget
	Range  bool    `json:"range,omitempty"`  // a pixel outside [0,1]
	NoGrad bool    `json:"nograd,omitempty"` // the attack had no usable gradient
}

// Unit is a finished unit: the per-image results of one attack at one
// budget on one batch, or a batch's clean pass (Pred, the gradient flags
// and a hash of its images and labels).
type Unit struct {
	UnitKey
	Name   string        `json:"name"`
	Images []ImageResult `json:"images"`
	// clean pass
	Labels        []int   `json:"labels,omitempty"`
	Pred          []int   `json:"pred,omitempty"`
	ZeroGrad      []int   `json:"zero_grad,omitempty"`      // images with a zero input gradient
	NonFiniteGrad []int   `json:"nonfinite_grad,omitempty"` // images with a NaN/Inf one
	DataSHA256    string  `json:"data_sha256,omitempty"`
	Seconds       float64 `json:"seconds"`
}

// recordsHeader is the first line of a record file.
type recordsHeader struct {
	Format string  `json:"format"`
	Eval   *Header `json:"evaluation"`
	// Lo and Hi are the batches the file covers; Shard names the shard
	// ("i/N", "" for the whole evaluation).
	Lo    int    `json:"batches_lo"`
	Hi    int    `json:"batches_hi"`
	Shard string `json:"shard,omitempty"`
}

type recordLine struct {
	Header *recordsHeader `json:"header,omitempty"`
	Unit   *Unit          `json:"unit,omitempty"`
}

// normalized returns h as it reads back from JSON (settings values become
// JSON types), so that headers compare equal with those of files.
func (h *Header) normalized() (*Header, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := new(Header)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	for t := range h.Threats {
		for k := range h.Threats[t].Attacks {
			out.Threats[t].Attacks[k].config = h.Threats[t].Attacks[k].config
			out.Threats[t].Attacks[k].specSeed = h.Threats[t].Attacks[k].specSeed
		}
		for k := range h.Threats[t].Checks {
			out.Threats[t].Checks[k].config = h.Threats[t].Checks[k].config
			out.Threats[t].Checks[k].specSeed = h.Threats[t].Checks[k].specSeed
		}
	}
	out.Unbounded.config, out.Unbounded.specSeed = h.Unbounded.config, h.Unbounded.specSeed
	return out, nil
}

// diff names the fields in which two headers differ ("" if none).
func (h *Header) diff(o *Header) string {
	var a, b map[string]any
	ja, _ := json.Marshal(h)
	jb, _ := json.Marshal(o)
	if bytes.Equal(ja, jb) {
		return ""
	}
	json.Unmarshal(ja, &a)
	json.Unmarshal(jb, &b)
	return identityDiff(a, b)
}

// records is a record file read into memory.
type records struct {
	path  string
	head  *recordsHeader
	units map[UnitKey]*Unit
	order []UnitKey
	good  int64 // bytes of complete, valid lines
	cut   bool  // the last line was cut short
}

// readRecords reads a record file. A last line cut short (a write
// interrupted by a crash) is dropped and reported in cut; any other
// invalid line, a missing header or a unit listed twice is an error
// naming the file and the line.
func readRecords(path string, data []byte) (*records, error) {
	r := &records{path: path, units: map[UnitKey]*Unit{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	line, off := 0, 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		end := off + len(raw) + 1
		complete := end <= len(data) && data[end-1] == '\n'
		var l recordLine
		err := json.Unmarshal(raw, &l)
		if !complete {
			r.cut = true
			break // interrupted write: drop it
		}
		if err != nil {
			return nil, fmt.Errorf("record file %s: line %d: %v", path, line, err)
		}
		if line == 1 {
			if l.Header == nil || l.Header.Eval == nil {
				return nil, fmt.Errorf("record file %s: line 1 is not an %s header", path, RecordsFormat)
			}
			if l.Header.Format != RecordsFormat {
				return nil, fmt.Errorf("record file %s: format %q, want %q (a file from another version of arp: delete it and run again)", path, l.Header.Format, RecordsFormat)
			}
			h := l.Header
			if h.Lo < 0 || h.Hi < h.Lo || h.Eval.BatchSize < 1 || h.Eval.Images < 1 || h.Hi > (h.Eval.Images-1)/h.Eval.BatchSize+1 {
				return nil, fmt.Errorf("record file %s: line 1: batches %d-%d of %d images in batches of %d do not make sense", path, h.Lo, h.Hi-1, h.Eval.Images, h.Eval.BatchSize)
			}
			r.head = h
		} else {
			u := l.Unit
			if u == nil {
				return nil, fmt.Errorf("record file %s: line %d: not a unit record", path, line)
			}
			if u.Batch < r.head.Lo || u.Batch >= r.head.Hi {
				return nil, fmt.Errorf("record file %s: line %d: %v is outside the file's batches %d-%d", path, line, u.UnitKey, r.head.Lo, r.head.Hi-1)
			}
			if _, dup := r.units[u.UnitKey]; dup {
				return nil, fmt.Errorf("record file %s: line %d: %v is recorded twice", path, line, u.UnitKey)
			}
			r.units[u.UnitKey] = u
			r.order = append(r.order, u.UnitKey)
		}
		off = end
		r.good = int64(end)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("record file %s: %v", path, err)
	}
	if r.head == nil && len(data) > 0 && !r.cut {
		return nil, fmt.Errorf("record file %s: no header line", path)
	}
	return r, nil
}

// ReadRecords reads a record file: its evaluation, its batches and its
// units in file order.
func ReadRecords(path string) (h *Header, lo, hi int, units []Unit, err error) {
	data, err := limits.ReadFile(path, limits.FitsMemory)
	if err != nil {
		return nil, 0, 0, nil, fmt.Errorf("record file %s: %v", path, err)
	}
	r, err := readRecords(path, data)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	if r.head == nil {
		return nil, 0, 0, nil, fmt.Errorf("record file %s is empty", path)
	}
	for _, k := range r.order {
		units = append(units, *r.units[k])
	}
	return r.head.Eval, r.head.Lo, r.head.Hi, units, nil
}

// EncodeRecords writes a record file: the header of the evaluation h for
// batches [lo, hi) (shardName "" for the whole evaluation) and the units,
// one line each, as Run, RunShard and Merge read them.
func EncodeRecords(h *Header, lo, hi int, shardName string, units []Unit) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(recordLine{Header: &recordsHeader{Format: RecordsFormat, Eval: h, Lo: lo, Hi: hi, Shard: shardName}}); err != nil {
		return nil, err
	}
	for i := range units {
		if err := enc.Encode(recordLine{Unit: &units[i]}); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// fileStore is an open record file: finished units are read back and new
// ones appended and synced.
type fileStore struct {
	path  string
	f     *os.File
	lock  *rundir.Lock // held until close: one process per record file
	units map[UnitKey]*Unit
}

// openRecords opens (or creates) the record file at path for batches
// [lo, hi) of the evaluation h, reading the units of an earlier run. A
// partial last line (a write interrupted by a crash) is dropped.
func openRecords(path string, h *Header, lo, hi int, shardName string) (fs *fileStore, err error) {
	lock, err := rundir.LockFile(path)
	if err != nil {
		return nil, fmt.Errorf("record file %w", err)
	}
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	data, err := limits.ReadFile(path, limits.FitsMemory)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("record file %s: %v", path, err)
	}
	r, err := readRecords(path, data)
	if err != nil {
		return nil, err
	}
	if r.head != nil {
		if d := r.head.Eval.diff(h); d != "" {
			return nil, fmt.Errorf("record file %s belongs to a different evaluation (%s); delete it or choose another file", path, d)
		}
		if r.head.Lo != lo || r.head.Hi != hi {
			return nil, fmt.Errorf("record file %s holds batches %d-%d (shard %q), not %d-%d; choose another file", path, r.head.Lo, r.head.Hi-1, r.head.Shard, lo, hi-1)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("record file %s: %v", path, err)
	}
	if err := f.Truncate(r.good); err != nil {
		f.Close()
		return nil, fmt.Errorf("record file %s: %v", path, err)
	}
	if _, err := f.Seek(r.good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s := &fileStore{path: path, f: f, lock: lock, units: r.units}
	if r.head == nil {
		if err := s.write(recordLine{Header: &recordsHeader{Format: RecordsFormat, Eval: h, Lo: lo, Hi: hi, Shard: shardName}}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

// write appends one line and syncs it to disk.
func (s *fileStore) write(l recordLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("record file %s: %v", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("record file %s: %v", s.path, err)
	}
	return nil
}

func (s *fileStore) done(k UnitKey) (*Unit, bool) { u, ok := s.units[k]; return u, ok }

func (s *fileStore) save(u *Unit) error {
	s.units[u.UnitKey] = u
	return s.write(recordLine{Unit: u})
}

func (s *fileStore) close() error {
	err := s.f.Close()
	s.lock.Unlock()
	return err
}

// identityDiff names the first fields in which two identities differ.
func identityDiff(a, b map[string]any) string {
	var diff []string
	for _, k := range sortedKeys(b) {
		if !reflect.DeepEqual(a[k], b[k]) {
			diff = append(diff, fmt.Sprintf("%s: %v in the file, %v now", k, short(a[k]), short(b[k])))
		}
	}
	for _, k := range sortedKeys(a) {
		if _, ok := b[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s only in the file", k))
		}
	}
	if len(diff) == 0 {
		return "unknown difference"
	}
	if len(diff) > 3 {
		diff = append(diff[:3], "...")
	}
	return fmt.Sprint(diff)
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

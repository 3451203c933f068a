package analysis

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/arp-robustness/arp/limits"
)

// Num is a float64 that encodes NaN and infinities as JSON null (and
// decodes null as NaN), so undefined quantities such as the coverage of an
// image without ground truth survive a JSON round trip.
type Num float64

// MarshalJSON writes null for NaN and infinities.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = Num(f)
	return nil
}

// F returns n as a float64.
func (n Num) F() float64 { return float64(n) }

// Map is an attention map stored as a JSON array with the shortest decimal
// representation of each float32 that reads back exactly, so masks derived
// from a stored map equal those computed during the analysis.
type Map []float32

// MarshalJSON writes the map as an array of numbers (non-finite values,
// which attention maps never contain, as 0).
func (m Map) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 10*len(m)+2)
	b = append(b, '[')
	for i, v := range m {
		if i > 0 {
			b = append(b, ',')
		}
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		b = strconv.AppendFloat(b, f, 'g', -1, 32)
	}
	return append(b, ']'), nil
}

// Pixels is an image (CHW, values in [0,1]) or a mask stored as base64 bytes:
// images as round(255*v), masks as 0 and 1.
type Pixels string

// EncodeImage quantises a [0,1] image to bytes and encodes it.
func EncodeImage(img []float32) Pixels {
	b := make([]byte, len(img))
	for i, v := range img {
		b[i] = byte(math.Round(float64(min(max(v, 0), 1)) * 255))
	}
	return Pixels(base64.StdEncoding.EncodeToString(b))
}

// EncodeMask encodes a binary mask.
func EncodeMask(m []bool) Pixels {
	b := make([]byte, len(m))
	for i, v := range m {
		if v {
			b[i] = 1
		}
	}
	return Pixels(base64.StdEncoding.EncodeToString(b))
}

// Image decodes an image of n values.
func (p Pixels) Image(n int) ([]float32, error) {
	b, err := p.bytes(n)
	if err != nil {
		return nil, err
	}
	img := make([]float32, n)
	for i, v := range b {
		img[i] = float32(v) / 255
	}
	return img, nil
}

// Mask decodes a mask of n pixels.
func (p Pixels) Mask(n int) ([]bool, error) {
	b, err := p.bytes(n)
	if err != nil {
		return nil, err
	}
	m := make([]bool, n)
	for i, v := range b {
		m[i] = v != 0
	}
	return m, nil
}

func (p Pixels) bytes(n int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(string(p))
	if err != nil {
		return nil, fmt.Errorf("pixels: %v", err)
	}
	if len(b) != n {
		return nil, fmt.Errorf("pixels: %d values, want %d", len(b), n)
	}
	return b, nil
}

// Record is the line of records.jsonl for one test image.
type Record struct {
	Index int `json:"index"` // position in the dataset
	Batch int `json:"batch"` // the batch it was analysed in (resume unit)
	Label int `json:"label"` // true class
	Pred  int `json:"pred"`  // clean prediction
	// Skipped says why the image was not analysed ("misclassified"); the
	// fields below are then empty.
	Skipped string `json:"skipped,omitempty"`
	// Conf is the clean softmax probability of the true class.
	Conf Num `json:"conf"`
	// TruthArea is the share of the image the ground-truth object covers
	// (0: no ground truth, or a record of an older analysis).
	TruthArea Num       `json:"truth_area,omitempty"`
	Clean     *MapStats `json:"clean,omitempty"`
	// Attacks holds one entry per attack, keyed by the attack's spec.
	Attacks map[string]*AttackRecord `json:"attacks,omitempty"`
	// Image and Truth (gallery records only) are the clean image and the
	// ground-truth mask.
	Image Pixels `json:"image,omitempty"`
	Truth Pixels `json:"truth,omitempty"`
}

// MapStats describes one attention map and its mean-threshold mask.
type MapStats struct {
	Map Map `json:"map"` // at the layer's resolution (Header.MapH x MapW)
	// Completeness against the ground truth G (NaN without ground truth):
	// coverage |A and G|/|G| and IoU of the mean-threshold mask A, coverage
	// of the top-k mask and of the area-matched mask (top |G| pixels), and
	// whether the map's maximum lies in G.
	Coverage     Num   `json:"coverage"`
	IoUTruth     Num   `json:"iou_truth"`
	CoverageTopK Num   `json:"coverage_topk"`
	CoverageArea Num   `json:"coverage_area"`
	Pointing     *bool `json:"pointing,omitempty"`
	// Shape of the mean-threshold mask: area share of the image,
	// 8-connected components and the largest one's share of the mask;
	// normalised entropy of the map (1 uniform, 0 one cell).
	Area         Num `json:"area"`
	Components   int `json:"components"`
	LargestShare Num `json:"largest_share"`
	Entropy      Num `json:"entropy"`
}

// AttackRecord is the outcome of one attack on one image.
type AttackRecord struct {
	Success  bool `json:"success"`   // the adversarial image is misclassified
	Pred     int  `json:"pred"`      // adversarial prediction
	ConfTrue Num  `json:"conf_true"` // adversarial probability of the true class
	ConfPred Num  `json:"conf_pred"` // adversarial probability of the predicted class
	Linf     Num  `json:"linf"`      // L-inf size of the perturbation on the [0,1] scale
	// Clean/adversarial attention agreement: IoU of the mean-threshold
	// masks and of the top-k masks, Spearman correlation of the maps,
	// distance between the maps' centroids in pixels.
	IoU           Num `json:"iou"`
	IoUTopK       Num `json:"iou_topk"`
	RankCorr      Num `json:"rank_corr"`
	CentroidShift Num `json:"centroid_shift"`
	// Adv describes the adversarial image's map (for the true class).
	Adv *MapStats `json:"adv"`
	// Per-step trace of iterative attacks (observations 2 and 3): after
	// step k+1, the IoUs with the clean masks, whether the image is
	// misclassified, the probability of the true class, the connected
	// pieces of the mean-threshold mask and the L-inf size of the
	// perturbation. (Records of older analyses lack the last two.)
	StepIoU        []Num  `json:"step_iou,omitempty"`
	StepIoUTopK    []Num  `json:"step_iou_topk,omitempty"`
	StepSuccess    []bool `json:"step_success,omitempty"`
	StepConf       []Num  `json:"step_conf,omitempty"`
	StepComponents []int  `json:"step_components,omitempty"`
	StepLinf       []Num  `json:"step_linf,omitempty"`
	// Image is the adversarial image (gallery records only).
	Image Pixels `json:"image,omitempty"`
}

// Analysed reports whether the record holds an analysed image.
func (r *Record) Analysed() bool { return r.Skipped == "" && r.Clean != nil }

// ErrNoAnalysis is wrapped when a directory holds no analysis.
var ErrNoAnalysis = errors.New("no analysis")

// ReadRecords reads records.jsonl. A final line without its newline (the
// trace of an interrupted write) is ignored; any other malformed line is an
// error naming the file and line. It returns the records and the byte
// length of the valid prefix.
func ReadRecords(path string) ([]*Record, int64, error) {
	recs, _, valid, err := readRecordsFile(path)
	return recs, valid, err
}

// readRecordsFile is ReadRecords that also returns where each record's
// line starts.
func readRecordsFile(path string) ([]*Record, []int64, int64, error) {
	f, _, err := limits.Open(path, limits.FitsMemory)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	return readRecords(f, path)
}

func readRecords(r io.Reader, path string) (recs []*Record, starts []int64, valid int64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var off int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err == io.EOF {
			// An unterminated last line is an interrupted write.
			return recs, starts, off, nil
		}
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %v", path, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			rec := new(Record)
			dec := json.NewDecoder(bytes.NewReader(t))
			dec.DisallowUnknownFields()
			if err := dec.Decode(rec); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: line %d: %v", path, line, err)
			}
			if err := rec.check(); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: line %d: %v", path, line, err)
			}
			recs = append(recs, rec)
			starts = append(starts, off)
		}
		off += int64(len(b))
	}
}

// check validates what later code relies on.
func (r *Record) check() error {
	if r.Index < 0 || r.Batch < 0 {
		return fmt.Errorf("negative index %d or batch %d", r.Index, r.Batch)
	}
	if r.Skipped != "" {
		return nil
	}
	if r.Clean == nil {
		return fmt.Errorf("image %d: no clean map", r.Index)
	}
	for k, a := range r.Attacks {
		if a == nil || a.Adv == nil {
			return fmt.Errorf("image %d: attack %s has no adversarial map", r.Index, k)
		}
		n := len(a.StepIoU)
		if len(a.StepSuccess) != n || len(a.StepIoUTopK) != n || len(a.StepConf) != n ||
			len(a.StepComponents) != 0 && len(a.StepComponents) != n || len(a.StepLinf) != 0 && len(a.StepLinf) != n {
			return fmt.Errorf("image %d: attack %s: per-step arrays of different lengths", r.Index, k)
		}
	}
	return nil
}

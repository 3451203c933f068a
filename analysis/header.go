package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"sort"

	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

// Format is the format tag of analysis.json.
const Format = "arp-analysis/1"

// Header is analysis.json: what was analysed and how. It is written before
// the first record and checked when an analysis resumes.
type Header struct {
	Format string   `json:"format"`
	Config Config   `json:"config"`
	Model  ModelRef `json:"model"`
	Data   DataRef  `json:"data"`
	// Layer is the tapped layer ("" for LIME); MapH x MapW the size of the
	// stored maps (the layer's resolution, or the input size for LIME).
	Layer string `json:"layer,omitempty"`
	MapH  int    `json:"map_h"`
	MapW  int    `json:"map_w"`
	// TopK is the resolved number of top cells (or LIME superpixels).
	TopK    int          `json:"topk"`
	Attacks []AttackInfo `json:"attacks"`
	// Shard is set in the directory of one shard of a study (arp analyze
	// --shard i/N): it holds only the records of batches [Lo, Hi); Merge
	// combines the shards.
	Shard   *ShardInfo `json:"shard,omitempty"`
	Created string     `json:"created,omitempty"`
	Version string     `json:"arp_version,omitempty"`
}

// ShardInfo says which batches a shard's directory holds.
type ShardInfo struct {
	Spec string `json:"spec"` // "i/N"
	Lo   int    `json:"batches_lo"`
	Hi   int    `json:"batches_hi"`
}

func (s *ShardInfo) describe() string {
	if s == nil {
		return "the whole study"
	}
	return fmt.Sprintf("shard %s (batches %d-%d)", s.Spec, s.Lo, s.Hi-1)
}

// ModelRef identifies the analysed model.
type ModelRef struct {
	Dir  string   `json:"dir,omitempty"`
	Info *nn.Info `json:"info,omitempty"`
	// WeightsSHA256 is the hash of model.safetensors; resuming with other
	// weights is refused.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// DataRef identifies the analysed images.
type DataRef struct {
	Spec    string   `json:"spec"` // as given, e.g. "mnist:test"
	Name    string   `json:"name"` // the dataset's resolved name
	C       int      `json:"c"`
	H       int      `json:"h"`
	W       int      `json:"w"`
	Classes []string `json:"classes"`
	// Images is the number of images considered (the first Images of the
	// dataset); Total the size of the dataset.
	Images int `json:"images"`
	Total  int `json:"total"`
	// Truth says whether ground-truth regions exist (object masks for
	// digits and fashion images, box masks for VOC annotations).
	Truth bool `json:"truth"`
	// Preprocessing is how the images were cropped and resized to the
	// model's input (data.Dataset.Preprocessing), e.g. the Inception
	// preprocessing of ImageNet.
	Preprocessing string `json:"preprocessing,omitempty"`
}

// AttackInfo describes one attack of the study.
type AttackInfo struct {
	Key      string         `json:"key"` // the spec; key of Record.Attacks
	Name     string         `json:"name"`
	Settings map[string]any `json:"settings"`
	// Traced says whether per-step traces were recorded (observation 3).
	Traced bool `json:"traced"`
}

// ReadHeader reads analysis.json of an analysis directory.
func ReadHeader(dir string) (*Header, error) {
	path := filepath.Join(dir, rundir.AnalysisHeader)
	b, err := limits.ReadFile(path, limits.MaxJSONFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: %s is missing (run arp analyze first)", dir, ErrNoAnalysis, rundir.AnalysisHeader)
		}
		return nil, err
	}
	h := new(Header)
	if err := json.Unmarshal(b, h); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	h.fixAttackSeeds()
	return h, nil
}

// fixAttackSeeds corrects the attack settings of headers written before
// arp recorded the seed the attacks ran with: they show seed 0 for every
// attack whose spec sets no seed of its own, while the attacks ran with the
// study's seed (Config.Seed), as they still do.
func (h *Header) fixAttackSeeds() {
	for _, a := range h.Attacks {
		if v, ok := a.Settings["seed"].(float64); ok && v == 0 && h.Config.Seed != 0 {
			a.Settings["seed"] = float64(h.Config.Seed)
		}
	}
}

func (h *Header) check() error {
	if h.Format != Format {
		return fmt.Errorf("format %q, want %q", h.Format, Format)
	}
	if h.MapH <= 0 || h.MapW <= 0 || h.Data.H <= 0 || h.Data.W <= 0 || h.Data.C <= 0 || h.MapH*h.MapW > 1<<24 || h.Data.C*h.Data.H*h.Data.W > 1<<26 {
		return fmt.Errorf("invalid sizes: map %dx%d, images %dx%dx%d", h.MapH, h.MapW, h.Data.C, h.Data.H, h.Data.W)
	}
	seen := map[string]bool{}
	for _, a := range h.Attacks {
		if a.Key == "" || seen[a.Key] {
			return fmt.Errorf("attack key %q empty or repeated", a.Key)
		}
		seen[a.Key] = true
	}
	return nil
}

// Attack returns the info of the attack with the given key.
func (h *Header) Attack(key string) (AttackInfo, bool) {
	for _, a := range h.Attacks {
		if a.Key == key {
			return a, true
		}
	}
	return AttackInfo{}, false
}

// Lime reports whether the maps are LIME explanations.
func (h *Header) Lime() bool { return h.Config.Method == "lime" }

// Up returns a stored map at input resolution (bilinear, as the study did).
func (h *Header) Up(m []float32) []float32 {
	if h.MapH == h.Data.H && h.MapW == h.Data.W {
		return m
	}
	return mask.ResizeBilinear(m, h.MapH, h.MapW, h.Data.H, h.Data.W)
}

// MeanMask returns the mean-threshold mask of a stored map at input
// resolution: the attention region of the study.
func (h *Header) MeanMask(m []float32) []bool {
	return mask.MeanThreshold(h.Up(m), h.Data.H, h.Data.W)
}

// TopKMask returns the top-k mask at input resolution: the TopK highest
// cells of the coarse map, upsampled, or for LIME the TopK superpixels with
// the largest positive weights.
func (h *Header) TopKMask(m []float32) []bool {
	if h.Lime() {
		return topSegments(m, h.TopK)
	}
	return mask.Upsample(mask.TopK(m, h.MapH, h.MapW, h.TopK), h.MapH, h.MapW, h.Data.H, h.Data.W)
}

// topSegments returns the pixels of the n largest distinct positive values
// of a piecewise-constant LIME map (one value per superpixel).
func topSegments(m []float32, n int) []bool {
	seen := map[float32]bool{}
	var vals []float32
	for _, v := range m {
		if v > 0 && !seen[v] && !math.IsNaN(float64(v)) {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] > vals[j] })
	if len(vals) > n {
		vals = vals[:n]
	}
	keep := map[float32]bool{}
	for _, v := range vals {
		keep[v] = true
	}
	out := make([]bool, len(m))
	for i, v := range m {
		out[i] = keep[v]
	}
	return out
}

// resolveTopK returns the number of top cells for a map of hw cells (k
// was checked to be at most hw).
func resolveTopK(k, hw int, lime bool) int {
	switch {
	case k > 0:
		return k
	case lime:
		return 10
	default:
		return max(1, int(math.Round(float64(hw)*7/64)))
	}
}

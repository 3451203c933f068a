package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/arp-robustness/arp/limits"
)

// Report is the result of an evaluation: everything arp eval prints and
// writes as JSON and Markdown.
type Report struct {
	Model string `json:"model"`
	Data  string `json:"data"`
	// Images is the number of images evaluated; DataImages the number in
	// the dataset; Limit the --limit that selected the first Images of them
	// (0: the whole set).
	Images     int `json:"images"`
	DataImages int `json:"data_images"`
	Limit      int `json:"limit,omitempty"`
	// Subset says the images are a seeded subset of the dataset's, the
	// same for every model evaluated with the same N and seed.
	Subset *Subset `json:"subset,omitempty"`
	// TrainingSeed is the seed the model was trained with, when known
	// (model.json): comparisons over seeds pair by it.
	TrainingSeed *uint64 `json:"training_seed,omitempty"`
	// Mode is "cascade" (each attack only attacks the images every earlier
	// attack failed on; per-attack accuracies are cumulative) or
	// "standalone" (every attack attacks every correctly classified image).
	Mode      string `json:"mode"`
	Seed      uint64 `json:"seed"`
	BatchSize int    `json:"batch_size"`
	Clean     Counts `json:"clean"`
	// Correct marks the images classified correctly (PairImages).
	Correct ImageSet  `json:"correct_images,omitempty"`
	Scale   Scale     `json:"input_scale"`
	Threats []Threat  `json:"threats"`
	Checks  []Check   `json:"checks"`
	Resumed int       `json:"resumed_units,omitempty"` // units read back from the state file
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// Version is the arp that combined the records into this report
	// (buildinfo.String: the release and, when recorded, the revision).
	Version string `json:"arp_version,omitempty"`
}

// Subset is a seeded subset of a dataset's images (data.SeededSubset):
// N of the dataset's images chosen by Seed, in the dataset's order.
// Indices are their positions in the dataset; evaluations whose subsets
// have the same indices attacked the same images, so their results pair
// image by image.
type Subset struct {
	N       int    `json:"n"`
	Seed    uint64 `json:"seed"`
	Indices []int  `json:"indices"`
}

// Counts is a number of correctly classified images out of a total.
type Counts struct {
	Correct  int     `json:"correct"`
	Total    int     `json:"total"`
	Accuracy float64 `json:"accuracy"`
}

func counts(correct, total int) Counts {
	c := Counts{Correct: correct, Total: total}
	if total > 0 {
		c.Accuracy = float64(correct) / float64(total)
	}
	return c
}

// Scale is the model's input normalisation: pixels x in [0,1] enter the
// network as (x - Mean[c]) / Std[c]. Known is false when the classifier does
// not say.
type Scale struct {
	Known bool      `json:"known"`
	Mean  []float64 `json:"mean,omitempty"`
	Std   []float64 `json:"std,omitempty"`
}

// Threat is one threat model (a norm and a budget) with the results of
// every attack of that norm.
type Threat struct {
	Norm string  `json:"norm"` // "linf" or "l2"
	Eps  float64 `json:"eps"`  // on the [0,1] pixel scale
	// EpsInput is the budget on the model's input scale, per channel
	// (eps / std); nil when the scale is unknown.
	EpsInput []float64      `json:"eps_input_scale,omitempty"`
	Attacks  []AttackResult `json:"attacks"`
	// Worst is the per-image worst case over all attacks of this threat:
	// an image counts as robust only if it was classified correctly and
	// every attack failed on it.
	Worst Counts `json:"worst_case"`
	// Robust marks the images robust under the worst case (PairImages).
	Robust ImageSet `json:"robust_images,omitempty"`
}

// AttackResult is one attack under one threat model.
type AttackResult struct {
	Name     string         `json:"name"`
	Spec     string         `json:"spec"`
	Settings map[string]any `json:"settings"`
	// Accuracy: in standalone mode the accuracy under this attack alone;
	// in cascade mode the robust accuracy after this attack and all earlier
	// ones.
	Accuracy Counts `json:"accuracy"`
	// Attacked images (correctly classified and, in cascade mode, unbroken
	// by earlier attacks) and how many of them this attack broke.
	Attacked    int     `json:"attacked"`
	Broken      int     `json:"broken"`
	SuccessRate float64 `json:"success_rate"`
	// Perturbation norms on the [0,1] pixel scale over the successful
	// adversarial images.
	MeanLinf float64 `json:"mean_linf"`
	MaxLinf  float64 `json:"max_linf"`
	MeanL2   float64 `json:"mean_l2"`
	MaxL2    float64 `json:"max_l2"`
	// OutOfBudget counts adversarial images outside the budget and
	// OutOfRange those with a pixel outside [0,1] (neither is ever
	// counted as broken); NoGradient the images of batches on which the
	// attack reported no usable gradient (counted as not broken).
	OutOfBudget int     `json:"out_of_budget"`
	OutOfRange  int     `json:"out_of_range,omitempty"`
	NoGradient  int     `json:"no_gradient"`
	Seconds     float64 `json:"seconds"`
}

// Status of a sanity check.
const (
	Pass = "PASS"
	Warn = "WARN"
	Skip = "SKIP"
)

// Check is one sanity check of evaluation.md with its outcome.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // PASS, WARN or SKIP (not applicable)
	Detail string `json:"detail"`
}

// Warnings returns the checks that did not pass.
func (r *Report) Warnings() []Check {
	var w []Check
	for _, c := range r.Checks {
		if c.Status == Warn {
			w = append(w, c)
		}
	}
	return w
}

// ReadReport reads a report written by Report.JSON (arp eval --json), or
// combines an evaluation's complete record file (arp eval --state) into
// its report, as arp merge does.
func ReadReport(path string) (*Report, error) {
	if isRecordFile(path) {
		rep, err := Merge([]string{path})
		if err != nil {
			return nil, err
		}
		return rep, nil
	}
	b, err := limits.ReadFile(path, limits.FitsMemory)
	if err != nil {
		return nil, err
	}
	rep := new(Report)
	if err := json.Unmarshal(b, rep); err != nil {
		return nil, fmt.Errorf("%s: not an arp eval report: %v", path, err)
	}
	if rep.Clean.Total <= 0 {
		return nil, fmt.Errorf("%s: not an arp eval report (no images)", path)
	}
	if err := rep.Correct.trim(rep.Images, path+": correct_images"); err != nil {
		return nil, err
	}
	for i := range rep.Threats {
		t := &rep.Threats[i]
		if t.Norm == "" || math.IsNaN(t.Eps) {
			return nil, fmt.Errorf("%s: threat without norm or eps", path)
		}
		if err := t.Robust.trim(rep.Images, fmt.Sprintf("%s: robust_images of %s eps %g", path, t.Norm, t.Eps)); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// isRecordFile says whether path is an evaluation's record file (arp eval
// --state) rather than its JSON report: ReadReport combines a record file
// into the report it holds, with the per-image outcomes that reports
// written before they existed lack.
func isRecordFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 64)
	n, _ := io.ReadFull(f, b)
	return bytes.HasPrefix(bytes.TrimSpace(b[:n]), []byte(`{"header":{"format":"arp-eval-records/`))
}

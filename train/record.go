package train

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

// Record is the settings of a run as stored in the checkpoint and in
// model.json ("training"."settings").
type Record struct {
	Arch              string            `json:"arch"`
	Objective         string            `json:"defense"`
	ObjectiveSettings map[string]any    `json:"objective"`
	Optimizer         string            `json:"optimizer"`
	LR                float64           `json:"lr"`
	Momentum          float64           `json:"momentum,omitempty"`
	WeightDecayScale  float64           `json:"weight_decay_scale"`
	Schedule          Schedule          `json:"lr_schedule"`
	BatchSize         int               `json:"batch_size"`
	Steps             int               `json:"steps"`
	StepsPerEpoch     int               `json:"steps_per_epoch"`
	Seed              uint64            `json:"seed"`
	Flip              bool              `json:"flip"`
	TrainImages       int               `json:"train_images"`
	EvalImages        int               `json:"eval_images"`
	EvalEvery         int               `json:"eval_every"`
	EvalEps           float64           `json:"eval_eps"`
	LogEvery          int               `json:"log_every"`
	CheckpointEvery   int               `json:"checkpoint_every"`
	Data              map[string]any    `json:"data,omitempty"`
	Command           map[string]string `json:"command,omitempty"`
}

// resumeFree lists the Record fields that may change when a run is resumed.
var resumeFree = map[string]bool{"steps": true, "eval_every": true, "log_every": true, "checkpoint_every": true, "command": true}

// differences lists the fields of old and cur that differ (except
// resumeFree), as "field old -> new".
func differences(old, cur Record) []string {
	toMap := func(r Record) map[string]json.RawMessage {
		b, _ := json.Marshal(r)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		return m
	}
	a, b := toMap(old), toMap(cur)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if resumeFree[k] {
			continue
		}
		va, vb := normJSON(a[k]), normJSON(b[k])
		if va != vb {
			diffs = append(diffs, fmt.Sprintf("%s %s (checkpoint) vs %s (now)", k, orNone(va), orNone(vb)))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func normJSON(r json.RawMessage) string {
	if len(r) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(r, &v) != nil {
		return string(r)
	}
	b, _ := json.Marshal(v) // sorts keys, normalises numbers
	return string(b)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Training is model.json's "training": the run's settings and how far it
// got.
type Training struct {
	Settings  Record      `json:"settings"`
	StepsDone int         `json:"steps_done"`
	Complete  bool        `json:"complete"`
	LastEval  *EvalResult `json:"last_eval,omitempty"`
}

// TrainingOf reads the training record of a model's info; it returns nil
// without an error for a model that records none (built, not trained by
// Run).
func TrainingOf(info *nn.Info) (*Training, error) {
	if info == nil || len(info.Training) == 0 {
		return nil, nil
	}
	var t Training
	if err := json.Unmarshal(info.Training, &t); err != nil {
		return nil, fmt.Errorf("%s's training record: %v", rundir.Info, err)
	}
	return &t, nil
}

package job

import (
	"errors"
	"fmt"
	"github.com/arp-robustness/arp/buildinfo"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
	"github.com/spf13/pflag"
)

// Analyze is an arp analyze run: the values of its flags.
type Analyze struct {
	Model        string   `json:"model"`
	Data         string   `json:"data,omitempty"` // "": the test split of the model's training dataset
	DataDir      string   `json:"data_dir,omitempty"`
	Attacks      []string `json:"attacks"`
	Eps          float64  `json:"eps"`
	Method       string   `json:"method"`
	CAMScale     string   `json:"cam_scale"`
	IterSchedule string   `json:"iter_schedule"`
	Layer        string   `json:"layer,omitempty"`
	TopK         int      `json:"topk,omitempty"`
	Limit        int      `json:"limit,omitempty"`
	Seed         uint64   `json:"seed"`
	Batch        int      `json:"batch"`
	Steps        int      `json:"steps"`
	StepSize     float64  `json:"step_size,omitempty"`
	Gallery      int      `json:"gallery"`
	LIMESamples  int      `json:"lime_samples"`
	LIMESegments int      `json:"lime_segments"`
	// Out is the output directory ("": next to the model, see OutDir).
	Out   string `json:"out,omitempty"`
	Shard string `json:"shard,omitempty"`
}

// Flags registers arp analyze's flags on fs, with their defaults.
func (j *Analyze) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&j.Model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fs.StringVar(&j.Data, "data", "", "dataset name or path (default: the test split of the model's training dataset)")
	fs.StringSliceVar(&j.Attacks, "attacks", analysis.DefaultAttacks, "`attacks` to study")
	fs.Float64Var(&j.Eps, "eps", analysis.DefaultEps, "L-inf budget on the [0,1] pixel scale")
	fs.StringVar(&j.Method, "method", "gradcam-arp", "attention method: "+strings.Join(analysis.Methods(), ", "))
	fs.StringVar(&j.CAMScale, "cam-scale", "max", "gradcam, gradcam++: divide the ReLU map by its maximum (max) or subtract its minimum first as pytorch-grad-cam does (min-max)")
	fs.StringVar(&j.IterSchedule, "iter-schedule", analysis.IterFine, "Iter-LL's schedule: fine (--steps projected steps of --step-size, default 10 of eps/4) or paper (the ARP paper's 2 unprojected steps of eps)")
	fs.StringVar(&j.Layer, "layer", "", "attention layer (default: the model's)")
	fs.IntVar(&j.TopK, "topk", 0, "cells of the top-k mask (0: 7/64 of the map, the paper's 7 of 8x8; LIME: 10 superpixels)")
	fs.IntVar(&j.Limit, "limit", 0, "analyse only the first N test images (0: all)")
	fs.Uint64Var(&j.Seed, "seed", 1, "seed of the attacks, LIME and the bootstrap")
	fs.IntVar(&j.Batch, "batch", 100, "images per batch (the unit of resumption)")
	fs.IntVar(&j.Steps, "steps", 10, "steps of the iterative attacks when their spec does not say")
	fs.Float64Var(&j.StepSize, "step-size", 0, "step size of the iterative attacks on the [0,1] scale (0: eps/4)")
	fs.IntVar(&j.Gallery, "gallery", 8, "example images kept per attack and outcome for the report (0: none)")
	fs.IntVar(&j.LIMESamples, "lime-samples", 500, "LIME: perturbed samples per explanation")
	fs.IntVar(&j.LIMESegments, "lime-segments", 36, "LIME: SLIC superpixels per image")
	fs.StringVar(&j.Out, "out", "", "output directory (default RUN/analysis, or RUN/analysis-METHOD; for NAME.onnx NAME-analysis)")
	fs.StringVar(&j.Shard, "shard", "", "analyse only shard i/N (from 0) of the batches into --out (required); arp merge combines the shards")
}

// ShardSpec parses --shard.
func (j *Analyze) ShardSpec() (shard.Spec, error) {
	s, err := shard.Parse(j.Shard)
	if err != nil {
		return s, fmt.Errorf("--shard: %v", err)
	}
	if !s.Whole() && j.Out == "" {
		return s, fmt.Errorf("--shard needs --out DIR, a directory of its own for the shard's records")
	}
	return s, nil
}

// Check validates the flags that need no file, one flag per message: the
// values a user typed are used or refused here, so that the study's own
// defaults (analysis.Config.WithDefaults) only ever fill what was not
// given.
func (j *Analyze) Check() error {
	if _, err := j.ShardSpec(); err != nil {
		return err
	}
	if !(j.Eps > 0 && j.Eps <= 1) {
		return fmt.Errorf("--eps %g: want a budget in (0,1] on the [0,1] pixel scale", j.Eps)
	}
	if j.StepSize != 0 && !(j.StepSize > 0 && j.StepSize <= 1) {
		return fmt.Errorf("--step-size %g: want a step in (0,1] on the [0,1] pixel scale (0: eps/4)", j.StepSize)
	}
	for _, c := range []struct {
		flag    string
		v, lo   int
		hi      int
		meaning string
	}{
		{"limit", j.Limit, 0, limits.MaxInt, "a number of images; 0: all"},
		{"batch", j.Batch, 1, MaxBatch, "images per batch"},
		{"steps", j.Steps, 1, attack.MaxSteps, "iterative attack steps"},
		{"topk", j.TopK, 0, limits.MaxInt, "a number of cells; 0: 7/64 of the map"},
		{"gallery", j.Gallery, 0, 1000, "images per attack and outcome; 0: none"},
		{"lime-samples", j.LIMESamples, 2, lime.MaxSamples, "perturbed samples"},
		{"lime-segments", j.LIMESegments, 2, 10000, "superpixels"},
	} {
		if err := limits.Int("--"+c.flag, c.v, c.lo, c.hi, c.meaning); err != nil {
			return err
		}
	}
	return nil
}

// Config is the study's configuration from the flags.
func (j *Analyze) Config() analysis.Config {
	gallery, camScale := j.Gallery, j.CAMScale
	if gallery == 0 {
		gallery = -1
	}
	if camScale == "max" {
		camScale = "" // the default, recorded as none
	}
	return analysis.Config{Attacks: j.Attacks, Eps: j.Eps, Method: j.Method, CAMScale: camScale, IterSchedule: j.IterSchedule,
		Layer: j.Layer, TopK: j.TopK, Limit: j.Limit, Seed: j.Seed, BatchSize: j.Batch, Steps: j.Steps, StepSize: j.StepSize,
		Gallery: gallery, LIMESamples: j.LIMESamples, LIMESegments: j.LIMESegments}
}

// Open checks the job, opens the model and the dataset it names and
// returns the study (Dir is the output directory; Progress is left to the
// caller).
func (j *Analyze) Open() (*analysis.Study, error) {
	if err := j.Check(); err != nil {
		return nil, err
	}
	sh, _ := j.ShardSpec()
	lm, err := OpenModel(j.Model)
	if err != nil {
		return nil, err
	}
	spec := j.Data
	if spec == "" {
		if lm.Dataset == "" {
			return nil, fmt.Errorf("--data is required: model %s does not record its dataset", j.Model)
		}
		spec, _ = data.SplitSpec(lm.Dataset)
	}
	cfg := j.Config()
	if cfg.Method != "lime" {
		if cfg.Layer, err = lm.MapLayer(cfg.Layer); err != nil {
			return nil, err
		}
	} else if cfg.Layer != "" {
		return nil, fmt.Errorf("--layer applies to the Grad-CAM methods, not to lime")
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		return nil, flagError(err)
	}
	d, dataName, _, err := OpenData(spec, j.DataDir, 0)
	if err != nil {
		return nil, err
	}
	if err := fits(d, dataName, lm, j.Model); err != nil {
		return nil, err
	}
	if err := CheckBatchMemory(d, dataName, j.Batch, lm); err != nil {
		return nil, err
	}
	out := j.Out
	if out == "" {
		out = rundir.AnalysisDir(j.Model, j.Method)
		if lm.Format == "onnx" {
			out = strings.TrimSuffix(j.Model, filepath.Ext(j.Model)) + "-" + filepath.Base(out)
		}
	}
	if err := CheckOutputs(Output{Flag: "out", Path: out, Dir: true}); err != nil {
		return nil, err
	}
	ref := analysis.ModelRef{Dir: j.Model, Info: lm.Meta.Info}
	if ref.WeightsSHA256, err = lm.WeightsSHA256(); err != nil {
		return nil, err
	}
	st := &analysis.Study{Model: lm.Classifier, ModelRef: ref, Data: d, DataSpec: dataName, Config: cfg, Dir: out,
		Version: buildinfo.String(), Shard: sh}
	// the settings that depend on the model (the map's size): checked now,
	// on one image, not after the first batch
	if _, err := st.Header(); err != nil {
		return nil, flagError(err)
	}
	return st, nil
}

// flagError names the flag of an analysis.SettingError.
func flagError(err error) error {
	var se *analysis.SettingError
	if errors.As(err, &se) {
		return fmt.Errorf("--%s %v: %s", strings.ReplaceAll(se.Setting, "_", "-"), se.Value, strings.ReplaceAll(se.Msg, "lime_segments", "--lime-segments"))
	}
	return err
}

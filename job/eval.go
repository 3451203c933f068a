package job

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
	"github.com/arp-robustness/arp/train"
	"github.com/spf13/pflag"
)

// Defaults of arp eval.
const (
	EvalDefaultAttacks = "fgsm,step-ll,r-step-ll,iter-ll,pgd:restarts=5,square"
	EvalDefaultBatch   = 100
	EvalDefaultChecks  = 100
)

// Eval is an arp eval run: the values of its flags.
type Eval struct {
	Model       string    `json:"model"`
	Data        string    `json:"data"`
	DataDir     string    `json:"data_dir,omitempty"` // of named datasets ("": data.Dir())
	Attacks     []string  `json:"attacks"`
	Eps         []float64 `json:"eps,omitempty"`
	EpsL2       []float64 `json:"eps_l2,omitempty"`
	Limit       int       `json:"limit,omitempty"`
	Subset      int       `json:"subset,omitempty"`
	SubsetSeed  uint64    `json:"subset_seed,omitempty"`
	Seed        uint64    `json:"seed"`
	Batch       int       `json:"batch"`
	CheckImages int       `json:"check_images"`
	Standalone  bool      `json:"standalone,omitempty"`
	// Outputs and sharding (not needed by workers).
	JSON     string `json:"json,omitempty"`
	Markdown string `json:"markdown,omitempty"`
	Plot     string `json:"plot,omitempty"`
	State    string `json:"state,omitempty"`
	Shard    string `json:"shard,omitempty"`
}

// Flags registers arp eval's flags on fs, with their defaults.
func (j *Eval) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&j.Model, "model", "", "model: an arp run directory or a .onnx file (required)")
	fs.StringVar(&j.Data, "data", "", "dataset name or path; a name without a :split suffix uses its test split (required)")
	fs.StringSliceVar(&j.Attacks, "attacks", strings.Split(EvalDefaultAttacks, ","), "`attacks` to run, in order")
	fs.Float64SliceVar(&j.Eps, "eps", nil, "L-inf `budgets` on the [0,1] pixel scale, e.g. 0.1,0.2,0.3 (required with L-inf attacks)")
	fs.Float64SliceVar(&j.EpsL2, "eps-l2", nil, "L2 `budgets` on the [0,1] pixel scale (required with pgd-l2 and cw-l2)")
	fs.IntVar(&j.Limit, "limit", 0, "evaluate only the first N images (stated in the output; 0: all)")
	fs.IntVar(&j.Subset, "subset", 0, "evaluate N images chosen by --subset-seed: the same images for every model (their indices are in the JSON report; 0: no subset)")
	fs.Uint64Var(&j.SubsetSeed, "subset-seed", data.DefaultHoldOutSeed, "seed choosing the --subset images")
	fs.StringVar(&j.JSON, "json", "", "write the report as JSON to this file")
	fs.StringVar(&j.Markdown, "markdown", "", "write the report as Markdown to this file")
	fs.StringVar(&j.Plot, "plot", "", "write the accuracy-vs-eps curves to this PNG file")
	fs.StringVar(&j.State, "state", "", "resumable record file (JSON lines); with --shard the shard's output")
	fs.StringVar(&j.Shard, "shard", "", "run only shard i/N (from 0) of the batches; needs --state")
	fs.Uint64Var(&j.Seed, "seed", 1, "seed of every random choice of the attacks")
	fs.IntVar(&j.Batch, "batch", EvalDefaultBatch, "images per batch")
	fs.IntVar(&j.CheckImages, "check-images", EvalDefaultChecks, "images in the sanity-check subset (unbounded attack; attack comparisons in cascade mode); 0: skip those checks")
	fs.BoolVar(&j.Standalone, "standalone", false, "run every attack on every correctly classified image")
}

// Check validates what needs no file: attacks, numbers, the shard and the
// output names.
func (j *Eval) Check() error {
	if _, err := eval.ParseAttacks(j.Attacks); err != nil {
		return err
	}
	for _, c := range []struct {
		flag    string
		v, lo   int
		hi      int
		meaning string
	}{
		{"batch", j.Batch, 1, MaxBatch, "images per batch"},
		{"check-images", j.CheckImages, 0, limits.MaxInt, "a number of images; 0: skip those checks"},
		{"limit", j.Limit, 0, limits.MaxInt, "a number of images; 0: all"},
		{"subset", j.Subset, 0, limits.MaxInt, "a number of images; 0: no subset"},
	} {
		if err := limits.Int("--"+c.flag, c.v, c.lo, c.hi, c.meaning); err != nil {
			return err
		}
	}
	if j.Subset > 0 && j.Limit > 0 {
		return fmt.Errorf("--subset %d: not together with --limit", j.Subset)
	}
	if err := j.checkBudgets(0); err != nil {
		return err
	}
	if _, err := j.ShardSpec(); err != nil {
		return err
	}
	if j.Shard != "" {
		if j.State == "" {
			return fmt.Errorf("--shard needs --state FILE, the record file the shard writes its results to")
		}
		if j.JSON != "" || j.Markdown != "" || j.Plot != "" {
			return fmt.Errorf("a shard has no report of its own: drop --json, --markdown and --plot, and merge the shards' record files with arp merge")
		}
	}
	if err := CheckOutputs(Output{Flag: "state", Path: j.State}); err != nil {
		return err
	}
	if j.State != "" {
		// refused now rather than after loading the model and data (the
		// evaluation locks the file for its duration)
		if err := rundir.FileBusy(j.State); err != nil {
			return fmt.Errorf("record file %w", err)
		}
	}
	return CheckReportPaths(j.JSON, j.Markdown, j.Plot)
}

// checkBudgets checks --eps and --eps-l2 (see attack.CheckBudget) for
// images of size values (0: not known yet).
func (j *Eval) checkBudgets(size int) error {
	for _, e := range []struct {
		flag, norm string
		eps        []float64
	}{{"eps", "linf", j.Eps}, {"eps-l2", "l2", j.EpsL2}} {
		for _, v := range e.eps {
			if err := attack.CheckBudget("--"+e.flag, e.norm, v, size); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxBatch bounds the images per batch of a job (the memory a batch needs
// is checked against what is available when the model is known).
const MaxBatch = 100000

// CheckReportPaths checks the names of an evaluation report's files.
// They must be writable now, so that an evaluation of hours does not end
// unable to write its report.
func CheckReportPaths(json, markdown, plot string) error {
	if plot != "" && !strings.EqualFold(filepath.Ext(plot), ".png") {
		return fmt.Errorf("--plot %s: want a .png file", plot)
	}
	return CheckOutputs(Output{Flag: "json", Path: json}, Output{Flag: "markdown", Path: markdown}, Output{Flag: "plot", Path: plot})
}

// ShardSpec parses --shard.
func (j *Eval) ShardSpec() (shard.Spec, error) {
	s, err := shard.Parse(j.Shard)
	if err != nil {
		return s, fmt.Errorf("--shard: %v", err)
	}
	return s, nil
}

// EvalInputs is an opened evaluation: what eval.RunFrom,
// eval.RunShardFrom and eval.NewFrom take. Data is read a batch at a time.
type EvalInputs struct {
	Model   *modelio.Model
	Data    *data.Source
	Options eval.Options
}

// Open checks the job, opens the model and the dataset it names and builds
// the evaluation's options (Options.State is the job's; Progress is left
// to the caller).
func (j *Eval) Open() (*EvalInputs, error) {
	if err := j.Check(); err != nil {
		return nil, err
	}
	attacks, err := eval.ParseAttacks(j.Attacks)
	if err != nil {
		return nil, err
	}
	lm, err := OpenModel(j.Model)
	if err != nil {
		return nil, err
	}
	d, dataName, total, err := OpenData(j.Data, j.DataDir, j.Limit)
	if err != nil {
		return nil, err
	}
	var subset *eval.Subset
	if j.Subset > 0 {
		if j.Subset > d.Len() {
			return nil, fmt.Errorf("--subset %d: %s has only %d images", j.Subset, dataName, d.Len())
		}
		idx := data.SeededSubset(d.Len(), j.Subset, j.SubsetSeed)
		d = d.Subset(idx)
		subset = &eval.Subset{N: j.Subset, Seed: j.SubsetSeed, Indices: idx}
	}
	if err := fits(d, dataName, lm, j.Model); err != nil {
		return nil, err
	}
	if err := CheckBatchMemory(d, dataName, j.Batch, lm); err != nil {
		return nil, err
	}
	if err := j.checkBudgets(d.C * d.H * d.W); err != nil {
		return nil, err
	}
	if n := len(d.Classes); n != 0 && n != lm.NumClasses() {
		return nil, fmt.Errorf("dataset %s has %d classes but model %s has %d", dataName, n, j.Model, lm.NumClasses())
	}
	checks := j.CheckImages
	if checks == 0 {
		checks = -1
	}
	limit := 0
	if d.Len() < total && subset == nil {
		limit = d.Len()
	}
	modelID, err := lm.WeightsSHA256()
	if err != nil {
		return nil, err
	}
	opt := eval.Options{Attacks: attacks, Eps: j.Eps, EpsL2: j.EpsL2, Standalone: j.Standalone, BatchSize: j.Batch,
		Seed: j.Seed, State: j.State, Model: j.Model, ModelID: modelID, Data: dataName, DataImages: total, Limit: limit,
		Subset: subset, CheckImages: checks, AttentionTrained: attentionTrained(lm.Meta.Info)}
	if lm.Meta.Info != nil && lm.Format == "arp-run" {
		seed := lm.Meta.Info.Seed
		opt.TrainingSeed = &seed
	}
	return &EvalInputs{Model: lm, Data: d, Options: opt}, nil
}

// OpenModel opens the model a --model flag names (see modelio.Load).
func OpenModel(path string) (*modelio.Model, error) {
	if path == "" {
		return nil, fmt.Errorf("--model is required (an arp run directory or a .onnx file)")
	}
	return modelio.Load(path)
}

// OpenData opens the dataset to evaluate on: the test split unless the
// name says otherwise, and the first limit images (0: all). dataDir holds
// the named datasets ("": data.Dir()). It returns the dataset's Source
// (nothing decoded yet: jobs read it a batch at a time), its name as
// reported and the number of images of the whole split.
func OpenData(spec, dataDir string, limit int) (*data.Source, string, int, error) {
	if spec == "" {
		return nil, "", 0, fmt.Errorf("--data is required (a dataset name such as mnist or fashion-mnist, or a path)")
	}
	if limit < 0 {
		return nil, "", 0, fmt.Errorf("--limit %d must be >= 0", limit)
	}
	if dataDir == "" {
		var err error
		if dataDir, err = data.Dir(); err != nil {
			return nil, "", 0, err
		}
	}
	opt := data.Options{DataDir: dataDir}
	opt.Folder.Limit = limit // image folders (ImageNet) list only what is used
	d, name, err := data.OpenTestSource(spec, opt)
	if err != nil {
		return nil, "", 0, err
	}
	total := d.Len()
	if limit > 0 && limit < total {
		d = d.Head(limit)
	}
	return d, name, total, nil
}

// CheckBatchMemory refuses, before any work, a batch that does not fit in
// the memory available together with the model: what a job holds of its
// dataset is one batch (data.Source.Need), not the whole dataset, and
// beside it the model's weights (modelio.Model.WeightBytes). The weights
// are added only against a budget ($ARP_MEMORY): where the memory available
// is measured from the machine, the model is already loaded and its weights
// are already in use. The attacks' working memory (activations and
// gradients per image) is not counted.
func CheckBatchMemory(d *data.Source, dataName string, batch int, lm *modelio.Model) error {
	n := min(batch, d.Len())
	weights, err := lm.WeightBytes()
	if err != nil {
		return err
	}
	need, beside := batchNeed(d.Need(n), weights, limits.Budgeted())
	return limits.Check(fmt.Sprintf("--batch %d: reading %d images of %s (%dx%dx%d) at a time %s model %s (%s of weights)",
		batch, n, dataName, d.C, d.H, d.W, beside, lm.Path, limits.Bytes(weights)), need)
}

// batchNeed is the memory a batch of images bytes needs beside a model of
// weights bytes: the two summed (saturating) against a budget, the images
// alone against measured free memory, which the loaded model has already
// reduced. beside says which, for the message.
func batchNeed(images, weights int64, budgeted bool) (need int64, beside string) {
	if !budgeted {
		return images, "beside the loaded"
	}
	if images < math.MaxInt64-weights {
		return images + weights, "beside"
	}
	return math.MaxInt64, "beside"
}

// fits checks that the dataset's images fit the model.
func fits(d *data.Source, dataName string, lm *modelio.Model, model string) error {
	in := lm.InputShape()
	if d.C != in[0] || d.H != in[1] || d.W != in[2] {
		return fmt.Errorf("dataset %s has %dx%dx%d images (channels x height x width) but model %s takes %dx%dx%d", dataName, d.C, d.H, d.W, model, in[0], in[1], in[2])
	}
	return nil
}

// attentionTrained reports whether a model was trained with attention
// losses (ARP and its variants), from its training record.
func attentionTrained(info *nn.Info) bool {
	t, err := train.TrainingOf(info)
	return err == nil && t != nil && defense.UsesAttention(t.Settings.Objective)
}

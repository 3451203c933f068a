package arpbeam

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
)

func init() {
	register.DoFn3x1[context.Context, string, func(string), error](&evalWorkFn{})
	register.DoFn3x1[context.Context, int, func(*string) bool, error](&evalFinishFn{})
	register.Emitter1[string]()
	register.Iter1[string]()
}

// PlanEval opens the evaluation j where the pipeline is built (checking
// its model, data and options before anything is submitted) and returns
// its pipeline (see EvalPipeline) and header.
func PlanEval(j *job.Eval, cfg Config) (*beam.Pipeline, *eval.Header, error) {
	if j.Shard != "" {
		return nil, nil, fmt.Errorf("--shard is for arp eval in job arrays; arp-beam splits the work itself")
	}
	if j.JSON == "" {
		return nil, nil, fmt.Errorf("--json FILE is required: where the report goes (a local path or any Beam filesystem, e.g. gs://bucket/eval.json)")
	}
	local := *j
	var err error
	if local.Model, local.Data, err = localizeInputs(context.Background(), j.Model, j.Data); err != nil {
		return nil, nil, err
	}
	local.State = ""
	in, err := local.Open()
	if err != nil {
		return nil, nil, asGiven(err, []string{j.Model, j.Data}, []string{local.Model, local.Data})
	}
	e, err := eval.NewFrom(in.Model.Classifier, in.Data, in.Options)
	if err != nil {
		return nil, nil, err
	}
	h := e.Header()
	// the report names the model and the data as given, not their copies
	h.Model, h.Data = j.Model, dataSpec(j.Data, h.Data, local.Data)
	cfg = cfg.withDefaults()
	p, err := EvalPipeline(j, h, e.Items(0, e.Batches(), cfg.BatchesPerItem), cfg)
	return p, h, err
}

// EvalPipeline builds the pipeline of the evaluation j with header h: the
// items are reshuffled over the workers, each worker runs them (evalWorkFn)
// and emits their units, and one step gathers every unit, combines them
// (eval.Combine) and writes j's outputs: --json, --markdown, --plot, and
// with --state the record file of all units (which arp merge also reads).
func EvalPipeline(j *job.Eval, h *eval.Header, items []eval.Item, cfg Config) (*beam.Pipeline, error) {
	enc, err := lines([]any{j, h})
	if err != nil {
		return nil, err
	}
	return pipeline(items, &evalWorkFn{Job: enc[0], Config: cfg.withDefaults()},
		&evalFinishFn{Header: enc[1], JSON: j.JSON, Markdown: j.Markdown, Plot: j.Plot, State: j.State})
}

// evalWorkFn runs work items of an evaluation: each worker opens the model
// and the data (Job, copied from remote filesystems first) once and keeps
// them for every item of every bundle.
type evalWorkFn struct {
	Job    string
	Config Config
}

func (f *evalWorkFn) ProcessElement(ctx context.Context, item string, emit func(string)) error {
	return work(ctx, f.Config, f.Job, item, f.opener, func(ctx context.Context, e *eval.Evaluation, it eval.Item) ([]string, error) {
		units, err := e.Work(ctx, it)
		if err != nil {
			return nil, err
		}
		return lines(units)
	}, emit)
}

// opener opens the job on a worker: the model and the data.
func (f *evalWorkFn) opener(ctx context.Context) (*eval.Evaluation, error) {
	return opener(f.Job, func(j *job.Eval) (*string, *string) { return &j.Model, &j.Data },
		func(j *job.Eval) (*eval.Evaluation, error) {
			j.State = ""
			in, err := j.Open()
			if err != nil {
				return nil, err
			}
			return eval.NewFrom(in.Model.Classifier, in.Data, in.Options)
		})(ctx)
}

// evalFinishFn combines every unit into the report and writes the outputs.
type evalFinishFn struct {
	Header                      string
	JSON, Markdown, Plot, State string
}

func (f *evalFinishFn) ProcessElement(ctx context.Context, _ int, next func(*string) bool) error {
	var h eval.Header
	if err := json.Unmarshal([]byte(f.Header), &h); err != nil {
		return fmt.Errorf("%sheader: %v", workerTag, err)
	}
	units, err := decode[eval.Unit](next)
	if err != nil {
		return err
	}
	rep, err := eval.Combine(&h, units)
	if err != nil {
		return fmt.Errorf("%s%v", workerTag, err)
	}
	rep.Started = time.Now().UTC()
	files := map[string]func() ([]byte, error){
		f.JSON:     func() ([]byte, error) { var b bytes.Buffer; err := rep.JSON(&b); return b.Bytes(), err },
		f.Markdown: func() ([]byte, error) { var b bytes.Buffer; err := rep.Markdown(&b); return b.Bytes(), err },
		f.Plot:     rep.PlotPNG,
		f.State: func() ([]byte, error) {
			return eval.EncodeRecords(&h, 0, (h.Images+h.BatchSize-1)/h.BatchSize, "", sortUnits(units))
		},
	}
	// render everything before writing anything
	out := map[string][]byte{}
	for path, render := range files {
		if path == "" {
			continue
		}
		b, err := render()
		if err != nil {
			return fmt.Errorf("%s%s: %v", workerTag, path, err)
		}
		out[path] = b
	}
	for path, b := range out {
		if err := writeFile(ctx, path, b); err != nil {
			return fmt.Errorf("%s%v", workerTag, err)
		}
	}
	return nil
}

// sortUnits orders units by batch, then phase, attack and budget: the
// order of a record file written by one process, up to interleaving.
func sortUnits(units []eval.Unit) []eval.Unit {
	phase := map[string]int{"clean": 0, "main": 1, "subset": 2, "unbounded": 3}
	out := slices.Clone(units)
	slices.SortFunc(out, func(a, b eval.Unit) int {
		return cmp.Or(cmp.Compare(a.Batch, b.Batch), cmp.Compare(phase[a.Phase], phase[b.Phase]), cmp.Compare(a.Norm, b.Norm),
			cmp.Compare(a.Eps, b.Eps), cmp.Compare(a.Attack, b.Attack))
	})
	return out
}

// PrintEval prints the report the pipeline of j wrote (--json), as arp
// eval prints it, and the files written.
func PrintEval(ctx context.Context, w io.Writer, j *job.Eval) error {
	b, err := readFile(ctx, j.JSON)
	if err != nil {
		return err
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %v", j.JSON, err)
	}
	if err := rep.Text(w); err != nil {
		return err
	}
	for _, p := range []string{j.JSON, j.Markdown, j.Plot, j.State} {
		if p != "" {
			fmt.Fprintf(w, "wrote %s\n", p)
		}
	}
	return nil
}

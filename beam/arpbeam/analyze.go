package arpbeam

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
)

func init() {
	register.DoFn3x1[context.Context, string, func(string), error](&analyzeWorkFn{})
	register.DoFn3x1[context.Context, int, func(*string) bool, error](&analyzeFinishFn{})
}

// batchRange is a work item of an analysis: batches [Lo, Hi).
type batchRange struct {
	Lo int `json:"lo"`
	Hi int `json:"hi"`
}

func (r batchRange) String() string { return fmt.Sprintf("batches %d-%d", r.Lo, r.Hi-1) }

// PlanAnalyze opens the study j where the pipeline is built (checking its
// model, data and settings before anything is submitted) and returns its
// pipeline (see AnalyzePipeline) and the study's header.
func PlanAnalyze(j *job.Analyze, cfg Config) (*beam.Pipeline, *analysis.Header, error) {
	if j.Shard != "" {
		return nil, nil, fmt.Errorf("--shard is for arp analyze in job arrays; arp-beam splits the work itself")
	}
	if j.Out == "" {
		return nil, nil, fmt.Errorf("--out DIR is required: where the analysis goes (a local directory or any Beam filesystem, e.g. gs://bucket/analysis)")
	}
	local := *j
	var err error
	if local.Model, local.Data, err = localizeInputs(context.Background(), j.Model, j.Data); err != nil {
		return nil, nil, err
	}
	st, err := local.Open()
	if err != nil {
		return nil, nil, asGiven(err, []string{j.Model, j.Data}, []string{local.Model, local.Data})
	}
	h, err := st.Header()
	if err != nil {
		return nil, nil, err
	}
	h.Model.Dir, h.Data.Spec = j.Model, dataSpec(j.Data, h.Data.Spec, local.Data)
	cfg = cfg.withDefaults()
	nb := shard.Count(h.Data.Images, h.Config.BatchSize)
	var items []batchRange
	for b := 0; b < nb; b += cfg.BatchesPerItem {
		items = append(items, batchRange{Lo: b, Hi: min(nb, b+cfg.BatchesPerItem)})
	}
	p, err := AnalyzePipeline(j, h, items, cfg)
	return p, h, err
}

// dataSpec is the data a header names: the path as the user gave it when
// it was copied from a remote filesystem.
func dataSpec(given, opened, local string) string {
	if given != local && given != "" {
		return given
	}
	return opened
}

// AnalyzePipeline builds the pipeline of the study j with header h: the
// items are reshuffled over the workers, each worker analyses them
// (analyzeWorkFn) and emits one record per image, and one step gathers
// every record, combines them (analysis.Combine, which also re-chooses the
// gallery over the whole study) and writes the analysis to --out.
func AnalyzePipeline(j *job.Analyze, h *analysis.Header, items []batchRange, cfg Config) (*beam.Pipeline, error) {
	enc, err := lines([]any{j, h})
	if err != nil {
		return nil, err
	}
	return pipeline(items, &analyzeWorkFn{Job: enc[0], Config: cfg.withDefaults()}, &analyzeFinishFn{Header: enc[1], Out: j.Out})
}

// analyzeWorkFn analyses work items: each worker opens the model and the
// data once and keeps them for every item of every bundle.
type analyzeWorkFn struct {
	Job    string
	Config Config
}

func (f *analyzeWorkFn) ProcessElement(ctx context.Context, item string, emit func(string)) error {
	return work(ctx, f.Config, f.Job, item, f.opener, func(ctx context.Context, st *analysis.Study, it batchRange) ([]string, error) {
		recs, err := st.Work(ctx, it.Lo, it.Hi)
		if err != nil {
			return nil, err
		}
		return lines(recs)
	}, emit)
}

// opener opens the job on a worker: the model and the data.
func (f *analyzeWorkFn) opener(ctx context.Context) (*analysis.Study, error) {
	return opener(f.Job, func(j *job.Analyze) (*string, *string) { return &j.Model, &j.Data },
		func(j *job.Analyze) (*analysis.Study, error) {
			j.Shard = ""
			return j.Open()
		})(ctx)
}

// analyzeFinishFn combines every record and writes the analysis.
type analyzeFinishFn struct {
	Header string
	Out    string
}

func (f *analyzeFinishFn) ProcessElement(ctx context.Context, _ int, next func(*string) bool) error {
	var h analysis.Header
	if err := json.Unmarshal([]byte(f.Header), &h); err != nil {
		return fmt.Errorf("%sheader: %v", workerTag, err)
	}
	recs, err := decode[*analysis.Record](next)
	if err != nil {
		return err
	}
	out, err := analysis.Combine(&h, recs)
	if err != nil {
		return fmt.Errorf("%s%v", workerTag, err)
	}
	files, err := analysis.Files(&h, out)
	if err != nil {
		return fmt.Errorf("%s%v", workerTag, err)
	}
	// the summaries first, the records and the header last: a reader
	// never finds a new header over old records
	for _, name := range []string{rundir.AnalysisJSON, rundir.AnalysisMD, rundir.AnalysisRecords, rundir.AnalysisHeader} {
		if err := writeFile(ctx, joinPath(f.Out, name), files[name]); err != nil {
			return fmt.Errorf("%s%v", workerTag, err)
		}
	}
	return nil
}

// PrintAnalysis prints the verdicts of the analysis the pipeline of j
// wrote (--out), as arp analyze prints them, and the files written.
func PrintAnalysis(ctx context.Context, w io.Writer, j *job.Analyze) error {
	p := joinPath(j.Out, rundir.AnalysisJSON)
	b, err := readFile(ctx, p)
	if err != nil {
		return err
	}
	var s analysis.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	s.Verdicts(w)
	fmt.Fprintf(w, "wrote %s, %s, %s, %s\n", joinPath(j.Out, rundir.AnalysisHeader), joinPath(j.Out, rundir.AnalysisRecords), p, joinPath(j.Out, rundir.AnalysisMD))
	return nil
}

package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

// Run is everything the report shows about one run directory (or one
// analysis directory).
type Run struct {
	// Name labels the run in tables and plots (its directory name, made
	// unique by Load).
	Name string
	Dir  string
	// Info is model.json (nil when the path is an analysis directory of a
	// model elsewhere and its model.json cannot be read).
	Info *nn.Info
	// Training holds the lines of metrics.jsonl.
	Training []map[string]float64
	// Curves is curves.png, used when metrics.jsonl is missing.
	Curves []byte
	Evals  []*Eval
	// Analyses are the run's analyses with their records.
	Analyses []*Analysis
	// Notes say what is missing and which sections are skipped.
	Notes []string
}

// Eval is one evaluation report file.
type Eval struct {
	Path   string
	Report *eval.Report
}

// Analysis is one analysis directory: its statistics and records.
type Analysis struct {
	Dir     string
	Summary *analysis.Summary
	Records []*analysis.Record
}

// ErrMixedDatasets is wrapped when runs of different datasets are compared.
var ErrMixedDatasets = errors.New("runs from different datasets")

// Load reads the runs named by paths: run directories (with model.json, and
// any of eval.json, metrics.jsonl and analysis directories) or analysis
// directories (with analysis.json). A missing optional file becomes a note
// and the sections that need it are skipped; a path with nothing to report,
// or a file that cannot be parsed, is an error naming it. Runs whose test
// data differ are refused unless allowMixed is set.
func Load(paths []string, allowMixed bool) ([]*Run, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no run directories given")
	}
	var runs []*Run
	for _, p := range paths {
		r, err := LoadRun(p)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	uniqueNames(runs)
	if !allowMixed {
		if err := checkDatasets(runs); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// LoadRun reads one run or analysis directory.
func LoadRun(path string) (*Run, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such directory", path)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory (want a run directory with %s, or an analysis directory with %s)", path, rundir.Info, rundir.AnalysisHeader)
	}
	r := &Run{Dir: path, Name: filepath.Base(filepath.Clean(path))}
	if exists(filepath.Join(path, rundir.AnalysisHeader)) && !exists(filepath.Join(path, rundir.Info)) {
		// An analysis directory.
		a, err := loadAnalysis(path)
		if err != nil {
			return nil, err
		}
		r.Analyses = []*Analysis{a}
		h := a.Summary.Header
		r.Info = h.Model.Info
		if h.Model.Dir != "" {
			r.Name = filepath.Base(filepath.Clean(h.Model.Dir))
		}
		r.Notes = append(r.Notes, fmt.Sprintf("%s is an analysis directory: training and evaluation sections need the run directory (%s)", path, orUnknown(h.Model.Dir)))
		return r, nil
	}
	if !exists(filepath.Join(path, rundir.Info)) {
		return nil, fmt.Errorf("%s: neither a run directory (no %s) nor an analysis directory (no %s)", path, rundir.Info, rundir.AnalysisHeader)
	}
	info, err := nn.ReadInfo(path)
	if err != nil {
		return nil, err
	}
	r.Info = info
	// Evaluations.
	evals, _ := filepath.Glob(filepath.Join(path, "eval*.json"))
	sort.Strings(evals)
	for _, p := range evals {
		e, err := loadEval(p)
		if err != nil {
			return nil, err
		}
		r.Evals = append(r.Evals, e)
	}
	if len(r.Evals) == 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: no %s; the evaluation tables and accuracy-vs-eps plot are skipped (write one with arp eval --model %s --json %s)",
			path, rundir.Eval, path, filepath.Join(path, rundir.Eval)))
	}
	// Training curves.
	mp := filepath.Join(path, rundir.Metrics)
	if exists(mp) {
		if r.Training, err = loadMetrics(mp); err != nil {
			return nil, err
		}
	} else if b, err := limits.ReadFile(filepath.Join(path, rundir.Curves), limits.MaxImageFile); err == nil {
		r.Curves = b
	} else {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: no %s; the training curves are skipped", path, rundir.Metrics))
	}
	// Analyses: sub-directories with analysis.json.
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || !exists(filepath.Join(path, e.Name(), rundir.AnalysisHeader)) {
			continue
		}
		a, err := loadAnalysis(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		r.Analyses = append(r.Analyses, a)
	}
	if len(r.Analyses) == 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: no analysis directory (with %s); the attention statistics, plots and galleries are skipped (run arp analyze --model %s)",
			path, rundir.AnalysisHeader, path))
	}
	if len(r.Evals) == 0 && len(r.Analyses) == 0 && r.Training == nil && r.Curves == nil {
		return nil, fmt.Errorf("%s: nothing to report: no %s, no %s and no analysis directory", path, rundir.Eval, rundir.Metrics)
	}
	return r, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func loadEval(path string) (*Eval, error) {
	rep, err := eval.ReadReport(path)
	if err != nil {
		return nil, err
	}
	return &Eval{Path: path, Report: rep}, nil
}

// loadMetrics reads the numeric fields of every line of metrics.jsonl. A
// last line without its newline that does not parse (an interrupted write)
// is ignored.
func loadMetrics(path string) ([]map[string]float64, error) {
	b, err := limits.ReadFile(path, limits.FitsMemory)
	if err != nil {
		return nil, err
	}
	lines := bytes.Split(b, []byte("\n"))
	var out []map[string]float64
	for i, l := range lines {
		t := bytes.TrimSpace(l)
		if len(t) == 0 {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal(t, &raw); err != nil {
			if i == len(lines)-1 {
				break
			}
			return nil, fmt.Errorf("%s: line %d: %v", path, i+1, err)
		}
		m := map[string]float64{}
		for k, v := range raw {
			if f, ok := v.(float64); ok {
				m[k] = f
			}
		}
		out = append(out, m)
	}
	if out == nil {
		out = []map[string]float64{}
	}
	return out, nil
}

func loadAnalysis(dir string) (*Analysis, error) {
	h, recs, err := analysis.Load(dir)
	if err != nil {
		return nil, err
	}
	s, err := analysis.Compute(h, recs)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	s.Dir = dir
	return &Analysis{Dir: dir, Summary: s, Records: recs}, nil
}

// uniqueNames makes run names unique by adding parent directories.
func uniqueNames(runs []*Run) {
	for pass := 0; pass < 3; pass++ {
		count := map[string]int{}
		for _, r := range runs {
			count[r.Name]++
		}
		dup := false
		for _, r := range runs {
			if count[r.Name] > 1 {
				dup = true
				parent := filepath.Base(filepath.Dir(filepath.Clean(r.Dir)))
				r.Name = parent + "/" + r.Name
			}
		}
		if !dup {
			return
		}
	}
	for i, r := range runs {
		r.Name = fmt.Sprintf("%s#%d", r.Name, i+1)
	}
}

// baseDataset strips a split suffix and cleans paths, so "mnist:test" and
// "mnist" name the same data.
func baseDataset(s string) string {
	if s == "" {
		return ""
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		switch s[i+1:] {
		case "train", "test", "all":
			s = s[:i]
		}
	}
	if strings.ContainsAny(s, `/\`) {
		s = filepath.Clean(s)
	}
	return s
}

// Datasets returns the datasets a run was evaluated or analysed on (its
// training dataset when it has neither).
func (r *Run) Datasets() []string {
	set := map[string]bool{}
	for _, a := range r.Analyses {
		set[baseDataset(a.Summary.Header.Data.Spec)] = true
	}
	for _, e := range r.Evals {
		set[baseDataset(e.Report.Data)] = true
	}
	if len(set) == 0 && r.Info != nil && r.Info.Dataset != "" {
		set[baseDataset(r.Info.Dataset)] = true
	}
	delete(set, "")
	return slices.Sorted(maps.Keys(set))
}

func checkDatasets(runs []*Run) error {
	all := map[string][]string{}
	for _, r := range runs {
		for _, d := range r.Datasets() {
			all[d] = append(all[d], r.Name)
		}
	}
	if len(all) <= 1 {
		return nil
	}
	var parts []string
	keys := slices.Sorted(maps.Keys(all))
	for _, d := range keys {
		parts = append(parts, fmt.Sprintf("%s (%s)", d, strings.Join(all[d], ", ")))
	}
	return fmt.Errorf("%w: %s; compare runs on one dataset, or pass --allow-mixed", ErrMixedDatasets, strings.Join(parts, " vs "))
}

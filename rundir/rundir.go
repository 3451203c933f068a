package rundir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Files of a run directory.
const (
	Weights    = "model.safetensors"
	Info       = "model.json"
	Checkpoint = "checkpoint.safetensors"
	Metrics    = "metrics.jsonl"
	Curves     = "curves.png"
	Eval       = "eval.json"
)

// Files of an analysis directory.
const (
	AnalysisHeader  = "analysis.json"
	AnalysisRecords = "records.jsonl"
	AnalysisJSON    = "summary.json"
	AnalysisMD      = "summary.md"
)

// DefaultMethod is the attention method whose analysis goes to
// RUN/analysis.
const DefaultMethod = "gradcam-arp"

// AnalysisDir is where the analysis of run with attention method goes:
// RUN/analysis for the default method (or ""), else RUN/analysis-METHOD.
func AnalysisDir(run, method string) string {
	if method == "" || method == DefaultMethod {
		return filepath.Join(run, "analysis")
	}
	return filepath.Join(run, "analysis-"+method)
}

// TrainingFiles are the files a training run writes.
func TrainingFiles() []string { return []string{Checkpoint, Info, Weights, Metrics, Curves} }

// AnalysisFiles are the files an analysis writes.
func AnalysisFiles() []string {
	return []string{AnalysisHeader, AnalysisRecords, AnalysisJSON, AnalysisMD}
}

// HoldsRun returns the training files in dir that mark it as holding a run
// (sorted; none if the directory does not exist). A run holds a checkpoint,
// weights or model.json: metrics and curves alone are what a training
// stopped before its first checkpoint leaves (see Unstarted), with nothing
// to resume and nothing lost by starting over.
func HoldsRun(dir string) []string {
	var found []string
	for _, n := range []string{Checkpoint, Info, Weights} {
		if exists(filepath.Join(dir, n)) {
			found = append(found, n)
		}
	}
	if len(found) > 0 && exists(filepath.Join(dir, Metrics)) {
		found = append(found, Metrics)
	}
	sort.Strings(found)
	return found
}

// Unstarted reports whether dir holds what a training stopped before its
// first checkpoint leaves: metrics (or curves) and no checkpoint, weights
// or model.json.
func Unstarted(dir string) bool {
	return len(HoldsRun(dir)) == 0 && (exists(filepath.Join(dir, Metrics)) || exists(filepath.Join(dir, Curves)))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Remove deletes the files names from dir (and nothing else); names that
// do not exist are skipped.
func Remove(dir string, names ...string) error {
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

package rundir_test

import (
	"fmt"
	"path/filepath"

	"github.com/arp-robustness/arp/rundir"
)

// Where a run's files and analyses go.
func Example() {
	run := "runs/arp"
	fmt.Println(filepath.ToSlash(filepath.Join(run, rundir.Info)))
	fmt.Println(filepath.ToSlash(rundir.AnalysisDir(run, "")))
	fmt.Println(filepath.ToSlash(filepath.Join(rundir.AnalysisDir(run, "lime"), rundir.AnalysisRecords)))
	// Output:
	// runs/arp/model.json
	// runs/arp/analysis
	// runs/arp/analysis-lime/records.jsonl
}

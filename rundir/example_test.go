package rundir_test

import (
	"errors"
	"fmt"
	"os"
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

// A second writer of a run directory is refused while the first holds it.
func ExampleLockDir() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	l, err := rundir.LockDir(dir)
	if err != nil {
		panic(err)
	}
	_, err = rundir.LockDir(dir)
	fmt.Println(errors.Is(err, rundir.ErrLocked))
	l.Unlock()
	l, err = rundir.LockDir(dir)
	fmt.Println(err)
	l.Unlock()
	// Output:
	// true
	// <nil>
}

package report_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/report"
	"github.com/arp-robustness/arp/rundir"
)

// A run directory with only its training metrics: the report shows the
// training curves and notes what is missing.
func Example() {
	dir, _ := os.MkdirTemp("", "arp-report-example")
	defer os.RemoveAll(dir)
	run := filepath.Join(dir, "adv")
	m, _ := nn.Build(mustSpec(), 1)
	_ = nn.SaveRun(run, m, nn.Info{ClassNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, Dataset: "mnist-mini"})
	_ = os.WriteFile(filepath.Join(run, rundir.Metrics), []byte(`{"step":10,"loss":2.1,"train_acc":0.4}
{"step":20,"loss":1.2,"train_acc":0.7}
`), 0o644)

	runs, err := report.Load([]string{run}, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	var page bytes.Buffer
	if err := report.Write(&page, runs, report.Options{Title: "example"}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("notes:", len(runs[0].Notes))
	fmt.Println("training section:", strings.Contains(page.String(), `<section id="training">`))
	fmt.Println("external references:", strings.Contains(page.String(), "http://") || strings.Contains(page.String(), "https://"))
	// Output:
	// notes: 2
	// training section: true
	// external references: false
}

func mustSpec() nn.Spec {
	s, err := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	if err != nil {
		panic(err)
	}
	return s
}

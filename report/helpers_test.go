package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

// fixture says which files a test run directory gets.
type fixture struct {
	dataset                 string // test data, e.g. "mnist:test"
	defense                 string
	model, eval, metrics    bool
	analysis                bool
	brokenEval, brokenModel bool
}

// writeRun writes a small run directory: model.json, eval.json,
// metrics.jsonl and an analysis of 40 hand-made 8x8 images.
func writeRun(t testing.TB, dir string, f fixture) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if f.model {
		spec, err := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
		if err != nil {
			t.Fatal(err)
		}
		training, _ := json.Marshal(map[string]any{"settings": map[string]any{"defense": f.defense, "steps": 100, "batch_size": 50,
			"objective": map[string]any{"defense": f.defense, "eps": 0.075}}, "steps_done": 100})
		info := nn.Info{Format: nn.InfoFormat, Spec: spec, ClassNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
			Dataset: baseDataset(f.dataset), Training: training}
		b, _ := json.Marshal(info)
		if f.brokenModel {
			b = []byte("{not json")
		}
		mustWrite(t, filepath.Join(dir, rundir.Info), b)
	}
	if f.eval {
		rep := &eval.Report{Model: dir, Data: f.dataset, Images: 100, DataImages: 1000, Limit: 100, Mode: "cascade", Seed: 1, BatchSize: 100,
			Clean: eval.Counts{Correct: 95, Total: 100, Accuracy: 0.95}, Started: time.Unix(0, 0).UTC()}
		for i, eps := range []float64{0.05, 0.1} {
			th := eval.Threat{Norm: "linf", Eps: eps, Worst: eval.Counts{Correct: 60 - 20*i, Total: 100, Accuracy: float64(60-20*i) / 100}}
			for j, a := range []string{"fgsm", "pgd"} {
				acc := float64(80-20*i-10*j) / 100
				th.Attacks = append(th.Attacks, eval.AttackResult{Name: a, Spec: a, Settings: map[string]any{"eps": eps},
					Accuracy: eval.Counts{Correct: int(acc * 100), Total: 100, Accuracy: acc}, Attacked: 95, Broken: 10})
			}
			rep.Threats = append(rep.Threats, th)
		}
		rep.Checks = []eval.Check{{Name: eval.CheckMonotone, Status: eval.Pass, Detail: "ok"}, {Name: eval.CheckSuite, Status: eval.Warn, Detail: "no square"}}
		b, _ := json.Marshal(rep)
		if f.brokenEval {
			b = b[:len(b)/2]
		}
		mustWrite(t, filepath.Join(dir, rundir.Eval), b)
	}
	if f.metrics {
		var b []byte
		for s := 1; s <= 5; s++ {
			b = append(b, fmt.Sprintf(`{"step":%d,"loss":%g,"train_acc":%g,"lr":0.001}`+"\n", 20*s, 2/float64(s), 0.5+0.08*float64(s))...)
		}
		mustWrite(t, filepath.Join(dir, rundir.Metrics), b)
	}
	if f.analysis {
		writeAnalysis(t, filepath.Join(dir, "analysis"), dir, f.dataset)
	}
	return dir
}

func mustWrite(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeAnalysis writes analysis.json and records.jsonl of 40 images of
// 8x8 pixels with 2x2 maps: attacks fgsm and iter-ll (traced, 3 steps);
// fgsm breaks the images of low coverage.
func writeAnalysis(t testing.TB, dir, model, dataset string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := analysis.Config{Attacks: []string{"fgsm", "iter-ll"}, Seed: 1}.WithDefaults()
	h := &analysis.Header{Format: analysis.Format, Config: cfg, Model: analysis.ModelRef{Dir: model},
		Data:  analysis.DataRef{Spec: dataset, Name: dataset, C: 1, H: 8, W: 8, Classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, Images: 40, Total: 40, Truth: true},
		Layer: "pool2", MapH: 2, MapW: 2, TopK: 1,
		Attacks: []analysis.AttackInfo{{Key: "fgsm", Name: "fgsm", Settings: map[string]any{"eps": 0.075}}, {Key: "iter-ll", Name: "iter-ll", Settings: map[string]any{"steps": 3}, Traced: true}}}
	b, _ := json.Marshal(h)
	mustWrite(t, filepath.Join(dir, rundir.AnalysisHeader), b)
	var lines []byte
	for i := 0; i < 40; i++ {
		img := make([]float32, 64)
		truth := make([]bool, 64)
		for p := range img {
			if (p/8+p%8+i)%5 < 2 {
				img[p] = 1
				truth[p] = true
			}
		}
		cov := float64(i) / 40
		r := &analysis.Record{Index: i, Label: i % 10, Pred: i % 10, Conf: analysis.Num(0.6 + cov/3), Attacks: map[string]*analysis.AttackRecord{},
			Clean: &analysis.MapStats{Map: analysis.Map{0.4, 0.3, 0.2, 0.1}, Coverage: analysis.Num(cov), IoUTruth: analysis.Num(cov / 2),
				CoverageTopK: analysis.Num(cov / 3), CoverageArea: analysis.Num(cov), Components: 1, LargestShare: 1, Entropy: 0.9, Area: 0.25}}
		if i == 39 {
			r.Clean.Coverage = analysis.Num(math.NaN()) // an image without ground truth
		}
		for _, k := range []string{"fgsm", "iter-ll"} {
			s := i < 15
			a := &analysis.AttackRecord{Success: s, Pred: (i + 1) % 10, ConfTrue: 0.3, ConfPred: 0.6, Linf: 0.075,
				IoU: analysis.Num(0.5 + cov/2), IoUTopK: analysis.Num(cov), RankCorr: 0.8, CentroidShift: 1,
				Adv: &analysis.MapStats{Map: analysis.Map{0.1, 0.2, 0.3, 0.4}, Coverage: analysis.Num(cov / 2), Components: 1 + i%3, LargestShare: 0.7, Entropy: 0.95}}
			if !s {
				a.Pred = i % 10
			}
			if k == "iter-ll" {
				for st := 0; st < 3; st++ {
					a.StepIoU = append(a.StepIoU, analysis.Num(0.9-0.1*float64(st)))
					a.StepIoUTopK = append(a.StepIoUTopK, analysis.Num(0.8-0.1*float64(st)))
					a.StepSuccess = append(a.StepSuccess, s && st > 0)
					a.StepConf = append(a.StepConf, 0.5)
				}
			}
			if i < 4 || (i >= 20 && i < 24) {
				adv := append([]float32(nil), img...)
				adv[i%64] = 0.5
				a.Image = analysis.EncodeImage(adv)
			}
			r.Attacks[k] = a
		}
		if i < 4 || (i >= 20 && i < 24) {
			r.Image = analysis.EncodeImage(img)
			r.Truth = analysis.EncodeMask(truth)
		}
		b, _ := json.Marshal(r)
		lines = append(append(lines, b...), '\n')
	}
	mustWrite(t, filepath.Join(dir, rundir.AnalysisRecords), lines)
}

package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/arp-robustness/arp/defense"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
)

// window accumulates the metrics between two metrics lines.
type window struct {
	Steps   int                `json:"steps"`
	Images  int                `json:"images"`
	Correct int                `json:"correct"`
	Loss    float64            `json:"loss"`
	Terms   map[string]float64 `json:"terms"`
}

func (w *window) add(r *defense.Result, n int) {
	w.Steps++
	w.Images += n
	w.Correct += r.Correct
	w.Loss += r.Loss
	if w.Terms == nil {
		w.Terms = map[string]float64{}
	}
	for k, v := range r.Terms {
		w.Terms[k] += v
	}
}

// readMetrics returns the metrics lines with step <= upTo; a missing file
// is empty and an unreadable last line (a crash mid-write) is dropped.
func readMetrics(path string, upTo int) ([]map[string]any, error) {
	b, err := limits.ReadFile(path, limits.FitsMemory)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if s, ok := m["step"].(float64); ok && int(s) <= upTo {
			out = append(out, m)
		}
	}
	return out, nil
}

func evalFromLine(m map[string]any) *EvalResult {
	f := func(k string) float64 { v, _ := m[k].(float64); return v }
	return &EvalResult{Step: int(f("step")), N: int(f("eval_n")), CleanAcc: f("eval_clean_acc"), StepLLAcc: f("eval_step_ll_acc"), Eps: f("eval_eps")}
}

// log writes a metrics line for the window ending at step done and resets
// the window.
func (r *runner) log(done int, lr float64, ev *EvalResult) error {
	w := r.win
	line := map[string]any{"step": done, "epoch": round(float64(done)/float64(r.perEpoch), 4), "lr": lr}
	if w.Steps > 0 {
		line["loss"] = w.Loss / float64(w.Steps)
		line["train_acc"] = float64(w.Correct) / float64(max(1, w.Images))
		for k, v := range w.Terms {
			if k != "loss" {
				line[k] = v / float64(w.Steps)
			}
		}
		line["images_per_s"] = round(r.imagesPerSec(), 1)
	}
	line["elapsed_s"] = round(time.Since(r.t0).Seconds(), 2)
	if ev != nil {
		line["eval_clean_acc"] = ev.CleanAcc
		line["eval_step_ll_acc"] = ev.StepLLAcc
		line["eval_n"] = ev.N
		line["eval_eps"] = ev.Eps
	}
	for k, v := range line {
		if f, ok := v.(float64); ok && !finite(f) {
			line[k] = nil // JSON has no NaN
		}
	}
	r.win = window{}
	r.winTime, r.timedImages = 0, 0
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	// keep the history as it reads back from the file
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	r.history = append(r.history, back)
	if r.metrics != nil {
		if _, err := r.metrics.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("%s: %v", r.path(rundir.Metrics), err)
		}
	}
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

// runner holds the state of one Run call.
type runner struct {
	cfg      Config
	m        *nn.Model
	opt      optim.Optimizer
	rec      Record
	train    *data.Dataset
	eval     *data.Dataset
	perEpoch int
	t0       time.Time

	start int
	win   window
	// throughput since the last metrics line (evaluations excluded)
	winTime     time.Duration
	timedImages int
	history     []map[string]any
	metrics     *os.File
	lastEval    *EvalResult
	lastSave    int   // step of the last checkpoint on disk (-1: none)
	curvesErr   error // the first failure to draw curves.png
}

func (r *runner) path(name string) string { return filepath.Join(r.cfg.Dir, name) }

func (r *runner) loop(ctx context.Context, params []*autograd.Var, names []string) (*Summary, error) {
	cfg := r.cfg
	sum := &Summary{Start: r.start, Done: r.start, Steps: cfg.Steps}
	var it *data.BatchIterator
	epoch := -1
	stepCtx := context.WithoutCancel(ctx) // steps always complete
	for step := r.start; step < cfg.Steps; step++ {
		if ctx.Err() != nil {
			sum.Done, sum.Elapsed, sum.Eval = step, time.Since(r.t0), r.lastEval
			if cfg.Dir == "" {
				return sum, fmt.Errorf("%w after %d of %d steps", ErrInterrupted, step, cfg.Steps)
			}
			if err := r.save(step); err != nil {
				return sum, fmt.Errorf("%w after %d of %d steps, but saving the checkpoint failed: %v", ErrInterrupted, step, cfg.Steps, err)
			}
			return sum, fmt.Errorf("%w after %d of %d steps; checkpoint saved in %s", ErrInterrupted, step, cfg.Steps, r.path(rundir.Checkpoint))
		}
		if e := step / r.perEpoch; e != epoch {
			var err error
			it, err = r.train.Batches(data.BatchOptions{Size: cfg.BatchSize, DropLast: true, Shuffle: true,
				Flip: cfg.Flip, Seed: derive(cfg.Seed, streamShuffle, uint64(e))})
			if err != nil {
				return sum, err
			}
			for b := 0; b < step%r.perEpoch; b++ { // resuming mid-epoch
				it.Next()
			}
			epoch = e
		}
		b, ok := it.Next()
		if !ok {
			return sum, fmt.Errorf("internal error: epoch %d ended early at step %d", epoch, step)
		}
		stepStart := time.Now()
		lr := cfg.Schedule.LR(cfg.LR, step, cfg.Steps)
		r.opt.SetLR(lr)
		s := newStep(r.m, params, names, r.opt, tensor.FromFloat32(b.Images, b.N, b.C, b.H, b.W), b.Labels, cfg.Seed, step)
		res, err := runStep(cfg.Objective, s)
		if err != nil {
			sum.Done, sum.Elapsed = step, time.Since(r.t0)
			if errors.Is(err, ErrNonFinite) {
				where := "no checkpoint was written yet"
				if r.lastSave >= 0 && cfg.Dir != "" {
					where = fmt.Sprintf("the last good checkpoint is %s (step %d)", r.path(rundir.Checkpoint), r.lastSave)
				}
				return sum, fmt.Errorf("%w: training stopped; %s", err, where)
			}
			return sum, fmt.Errorf("step %d: %w", step+1, err)
		}
		r.win.add(res, b.N)
		r.winTime += time.Since(stepStart)
		r.timedImages += b.N
		done := step + 1
		sum.Done = done
		last := done == cfg.Steps
		var ev *EvalResult
		if r.eval != nil && (last || (cfg.EvalEvery > 0 && done%cfg.EvalEvery == 0)) {
			ev, err = Evaluate(stepCtx, r.m, r.eval, cfg.EvalEps, 100)
			if err != nil {
				return sum, fmt.Errorf("evaluation after step %d: %w", done, err)
			}
			ev.Step = done
			r.lastEval = ev
		}
		p := Progress{Step: done, Steps: cfg.Steps, Epoch: float64(done) / float64(r.perEpoch),
			Loss: r.win.Loss / float64(r.win.Steps), TrainAcc: float64(r.win.Correct) / float64(max(1, r.win.Images)),
			LR: lr, ImagesPerSec: r.imagesPerSec(),
			Elapsed: time.Since(r.t0), Eval: ev}
		if last || ev != nil || done%cfg.LogEvery == 0 {
			if err := r.log(done, lr, ev); err != nil {
				return sum, err
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(p)
		}
		if cfg.Dir != "" && !last && cfg.CheckpointEvery > 0 && done%cfg.CheckpointEvery == 0 {
			if err := r.save(done); err != nil {
				return sum, err
			}
		}
	}
	if cfg.Dir != "" && (r.lastSave != cfg.Steps || r.start == cfg.Steps) {
		if err := r.save(cfg.Steps); err != nil {
			return sum, err
		}
	}
	sum.Done, sum.Elapsed, sum.Eval = cfg.Steps, time.Since(r.t0), r.lastEval
	return sum, nil
}

// imagesPerSec is the training throughput of the current window.
func (r *runner) imagesPerSec() float64 {
	return float64(r.timedImages) / math.Max(r.winTime.Seconds(), 1e-9)
}

// save writes the checkpoint for done completed steps, the model files and
// the curves.
func (r *runner) save(done int) error {
	if err := r.metrics.Sync(); err != nil {
		return fmt.Errorf("%s: %v", r.path(rundir.Metrics), err)
	}
	ck := &Checkpoint{Step: done, Record: r.rec, Model: r.m.State(), Optim: r.opt.State(), win: r.win}
	if err := writeCheckpoint(r.path(rundir.Checkpoint), ck); err != nil {
		return err
	}
	r.lastSave = done
	info := r.cfg.Info
	ti, err := json.Marshal(Training{Settings: r.rec, StepsDone: done, Complete: done == r.cfg.Steps, LastEval: r.lastEval})
	if err != nil {
		return err
	}
	info.Training = ti
	if info.Seed == 0 {
		info.Seed = r.cfg.Seed
	}
	if err := nn.SaveRun(r.cfg.Dir, r.m, info); err != nil {
		return err
	}
	// The curves are a picture of metrics.jsonl: failing to draw them is
	// reported, never a reason to stop the run.
	if err := writeCurves(r.path(rundir.Curves), r.history, r.rec); err != nil && r.curvesErr == nil {
		r.curvesErr = err
	}
	return nil
}

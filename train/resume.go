package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/rundir"
)

// open prepares the run directory, loading the checkpoint when resuming.
func (r *runner) open() error {
	r.lastSave = -1
	dir := r.cfg.Dir
	if dir == "" {
		if r.cfg.Resume {
			return fmt.Errorf("resuming needs a run directory")
		}
		return nil
	}
	if !r.cfg.Resume {
		if r.cfg.Replace {
			if err := rundir.Remove(dir, rundir.TrainingFiles()...); err != nil {
				return err
			}
		}
		if found := rundir.HoldsRun(dir); len(found) > 0 {
			return fmt.Errorf("%s holds a run already (%s): %w", dir, strings.Join(found, ", "), ErrRunExists)
		}
		// metrics.jsonl alone (a run stopped before its first checkpoint)
		// is started over
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(r.path(rundir.Metrics), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		r.metrics = f
		// A checkpoint at step 0, so that a run killed before its first
		// periodic checkpoint resumes (from the start) like any other.
		return r.save(0)
	}
	ck, err := ReadRunCheckpoint(dir)
	if err != nil {
		return err
	}
	if ck.Record.Arch != r.rec.Arch {
		return fmt.Errorf("%s is a checkpoint of architecture %s, not %s", r.path(rundir.Checkpoint), ck.Record.Arch, r.rec.Arch)
	}
	if d := differences(ck.Record, r.rec); len(d) > 0 {
		return fmt.Errorf("%s was written with other settings: %s", r.path(rundir.Checkpoint), strings.Join(d, "; "))
	}
	if ck.Step > r.cfg.Steps {
		return fmt.Errorf("%s is at step %d, beyond the %d steps asked for", r.path(rundir.Checkpoint), ck.Step, r.cfg.Steps)
	}
	if err := r.m.LoadState(ck.Model); err != nil {
		return fmt.Errorf("%s: %v", r.path(rundir.Checkpoint), err)
	}
	if err := r.opt.LoadState(ck.Optim); err != nil {
		return fmt.Errorf("%s: %v", r.path(rundir.Checkpoint), err)
	}
	r.start, r.win, r.lastSave = ck.Step, ck.win, ck.Step
	// keep the metrics up to the checkpoint; later lines are redone
	kept, err := readMetrics(r.path(rundir.Metrics), ck.Step)
	if err != nil {
		return err
	}
	r.history = kept
	var buf bytes.Buffer
	for _, h := range kept {
		b, _ := json.Marshal(h)
		buf.Write(append(b, '\n'))
	}
	if err := checkpoint.AtomicWriteFile(r.path(rundir.Metrics), buf.Bytes(), 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path(rundir.Metrics), os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.metrics = f
	for i := len(kept) - 1; i >= 0; i-- {
		if _, ok := kept[i]["eval_clean_acc"]; ok {
			r.lastEval = evalFromLine(kept[i])
			break
		}
	}
	return nil
}

// ReadRunCheckpoint reads the checkpoint of the run in dir; when there is
// none, the error (wrapping ErrNoCheckpoint) says why and what to do.
func ReadRunCheckpoint(dir string) (*Checkpoint, error) {
	ck, err := ReadCheckpoint(filepath.Join(dir, rundir.Checkpoint))
	if errors.Is(err, ErrNoCheckpoint) {
		switch _, serr := os.Stat(dir); {
		case errors.Is(serr, os.ErrNotExist):
			return nil, fmt.Errorf("%s: no run to resume (the directory does not exist): %w", dir, ErrNoCheckpoint)
		case rundir.Unstarted(dir):
			return nil, fmt.Errorf("%w; the run in %s stopped before its first checkpoint: start it again without resuming", err, dir)
		}
	}
	return ck, err
}

func (r *runner) close() {
	if r.metrics != nil {
		r.metrics.Close()
	}
}

package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/tensor"
)

// CheckpointFormat marks a training checkpoint (rundir.Checkpoint).
const CheckpointFormat = "arp-checkpoint/1"

// Checkpoint is the state of an unfinished run: enough to continue it
// exactly. Randomness is derived from (seed, step), so no generator state
// is stored.
type Checkpoint struct {
	// Step is the number of completed steps.
	Step int
	// Record holds the run's settings as written by Train.
	Record Record
	// Model and Optim are the model's named tensors and the optimiser's
	// state (optim.Optimizer.State).
	Model, Optim map[string]*tensor.Tensor
	// win holds the partial averages of the metrics line being
	// accumulated, so a resumed run writes the same metrics.
	win window
}

// writeCheckpoint saves c to path atomically.
func writeCheckpoint(path string, c *Checkpoint) error {
	f := checkpoint.New(path)
	put := func(prefix string, m map[string]*tensor.Tensor) error {
		for name, t := range m {
			var err error
			if t.DType() == tensor.Float64 {
				err = f.PutFloat64(prefix+name, t.Shape(), t.F64())
			} else {
				err = f.PutFloat32(prefix+name, t.Shape(), t.Float32s())
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := put("model/", c.Model); err != nil {
		return err
	}
	if err := put("optim/", c.Optim); err != nil {
		return err
	}
	rec, err := json.Marshal(c.Record)
	if err != nil {
		return err
	}
	win, err := json.Marshal(c.win)
	if err != nil {
		return err
	}
	f.Metadata["format"] = CheckpointFormat
	f.Metadata["step"] = strconv.Itoa(c.Step)
	f.Metadata["arch"] = c.Record.Arch
	f.Metadata["objective"] = c.Record.Objective
	f.Metadata["settings"] = string(rec)
	f.Metadata["window"] = string(win)
	return f.Save()
}

// ErrNoCheckpoint is wrapped by ReadCheckpoint when the file does not exist.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ReadCheckpoint reads and validates a checkpoint written by Train.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	f, err := checkpoint.Read(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w to resume from", path, ErrNoCheckpoint)
		}
		return nil, err
	}
	return fromFile(f, path)
}

// fromFile validates and converts a parsed checkpoint file.
func fromFile(f *checkpoint.File, path string) (*Checkpoint, error) {
	if f.Metadata["format"] != CheckpointFormat {
		return nil, fmt.Errorf("%s: not an arp training checkpoint (format %q, want %q)", path, f.Metadata["format"], CheckpointFormat)
	}
	c := &Checkpoint{Model: map[string]*tensor.Tensor{}, Optim: map[string]*tensor.Tensor{}}
	var err error
	c.Step, err = strconv.Atoi(f.Metadata["step"])
	if err != nil || c.Step < 0 {
		return nil, fmt.Errorf("%s: invalid step %q in the metadata", path, f.Metadata["step"])
	}
	if err := json.Unmarshal([]byte(f.Metadata["settings"]), &c.Record); err != nil {
		return nil, fmt.Errorf("%s: invalid settings in the metadata: %v", path, err)
	}
	if err := json.Unmarshal([]byte(f.Metadata["window"]), &c.win); err != nil {
		return nil, fmt.Errorf("%s: invalid metrics window in the metadata: %v", path, err)
	}
	for _, t := range f.Tensors() {
		var dst map[string]*tensor.Tensor
		var name string
		switch {
		case strings.HasPrefix(t.Name, "model/"):
			dst, name = c.Model, strings.TrimPrefix(t.Name, "model/")
		case strings.HasPrefix(t.Name, "optim/"):
			dst, name = c.Optim, strings.TrimPrefix(t.Name, "optim/")
		default:
			return nil, fmt.Errorf("%s: unexpected tensor %q", path, t.Name)
		}
		switch t.DType {
		case checkpoint.F64:
			v, err := t.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", path, t.Name, err)
			}
			dst[name] = tensor.FromFloat64(v, t.Shape...)
		default:
			v, err := t.Float32()
			if err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", path, t.Name, err)
			}
			dst[name] = tensor.FromFloat32(v, t.Shape...)
		}
	}
	if len(c.Model) == 0 {
		return nil, fmt.Errorf("%s: the checkpoint holds no model tensors", path)
	}
	return c, nil
}

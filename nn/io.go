package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

// InfoFormat is the format of model.json (see package rundir for the
// layout of a run directory).
const InfoFormat = "arp-model/1"

// Info is the content of model.json: everything needed to rebuild and use
// a trained model besides its weights.
type Info struct {
	Format     string          `json:"format"`
	Spec       Spec            `json:"spec"`
	ClassNames []string        `json:"class_names"`
	Dataset    string          `json:"dataset,omitempty"`
	Seed       uint64          `json:"seed"`
	ArpVersion string          `json:"arp_version,omitempty"`
	GoVersion  string          `json:"go_version,omitempty"`
	Created    string          `json:"created,omitempty"`
	Training   json.RawMessage `json:"training,omitempty"`
}

// SaveWeights writes the model's tensors to a safetensors file atomically,
// as float32 with the names of Params (documented in docs/model-format.md).
func SaveWeights(path string, m *Model, metadata map[string]string) error {
	var ts []checkpoint.Tensor
	for _, p := range m.Params() {
		v := p.Var.Value()
		t, err := checkpoint.NewFloat32(p.Name, v.Shape(), v.Float32s())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ts = append(ts, t)
	}
	return checkpoint.Write(path, ts, metadata)
}

// LoadWeights reads a safetensors file written by SaveWeights (or by
// PyTorch with the same names and shapes) into m.
func LoadWeights(path string, m *Model) error {
	f, err := checkpoint.Read(path)
	if err != nil {
		return err
	}
	st, err := ReadState(f, path)
	if err != nil {
		return err
	}
	if err := m.LoadState(st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReadState converts every floating-point tensor of a safetensors file to a
// float32 tensor by name.
func ReadState(f *checkpoint.File, path string) (map[string]*tensor.Tensor, error) {
	st := map[string]*tensor.Tensor{}
	for _, t := range f.Tensors() {
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, t.Name, err)
		}
		st[t.Name] = tensor.FromFloat32(v, t.Shape...)
	}
	return st, nil
}

// SaveRun writes model.safetensors and model.json into dir (created if
// needed), each atomically.
func SaveRun(dir string, m *Model, info Info) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	info.Format = InfoFormat
	info.Spec = m.Spec
	meta := map[string]string{"format": InfoFormat, "arch": m.Spec.Arch}
	if err := SaveWeights(filepath.Join(dir, rundir.Weights), m, meta); err != nil {
		return err
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return checkpoint.AtomicWriteFile(filepath.Join(dir, rundir.Info), append(b, '\n'), 0o644)
}

// ReadInfo reads and validates model.json of a run directory.
func ReadInfo(dir string) (*Info, error) {
	path := filepath.Join(dir, rundir.Info)
	b, err := limits.ReadFile(path, limits.MaxJSONFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s here: not an arp run directory", dir, rundir.Info)
		}
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", path, err)
	}
	if info.Format != InfoFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, info.Format, InfoFormat)
	}
	if err := info.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(info.ClassNames) != 0 && len(info.ClassNames) != info.Spec.NumClasses {
		return nil, fmt.Errorf("%s: %d class names for %d classes", path, len(info.ClassNames), info.Spec.NumClasses)
	}
	return &info, nil
}

// LoadRun rebuilds the model of a run directory and loads its weights.
func LoadRun(dir string) (*Model, *Info, error) {
	info, err := ReadInfo(dir)
	if err != nil {
		return nil, nil, err
	}
	// model.json can declare any size: compare it with the weights on disk
	// before building (allocating) the model
	wpath := filepath.Join(dir, rundir.Weights)
	if st, err := os.Stat(wpath); err == nil && st.Size() < info.Spec.MinWeightBytes() {
		s := info.Spec
		return nil, nil, fmt.Errorf("%s: declares a %s for %dx%dx%d inputs, whose weights need at least %s, but %s has %s",
			filepath.Join(dir, rundir.Info), s.Arch, s.InChannels, s.Height, s.Width, limits.Bytes(s.MinWeightBytes()), wpath, limits.Bytes(st.Size()))
	}
	m, err := Build(info.Spec, info.Seed)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", dir, err)
	}
	if err := LoadWeights(wpath, m); err != nil {
		return nil, nil, err
	}
	return m, info, nil
}

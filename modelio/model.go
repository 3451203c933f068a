package modelio

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx"
	"github.com/arp-robustness/arp/rundir"
)

// Model is a classifier opened by Load with what the commands report
// about it.
type Model struct {
	nn.Classifier
	Meta *Meta
	Path string // as given to Load
	// Format is "arp-run" or "onnx"; Arch the architecture ("onnx" for an
	// ONNX file); Dataset the training data, when model.json records it.
	Format, Arch, Dataset string
	// ClassNames has one name per class: the model's, else the indices.
	ClassNames []string
}

// Load opens the model at path (see Open) for a command; its errors start
// with "model ".
func Load(path string) (*Model, error) {
	c, meta, err := Open(path)
	if err != nil {
		return nil, fmt.Errorf("model %w", err)
	}
	names := meta.ClassNames
	if len(names) != c.NumClasses() {
		names = make([]string, c.NumClasses())
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
	}
	m := &Model{Classifier: c, Meta: meta, Path: path, ClassNames: names}
	switch meta.Kind {
	case KindRun:
		m.Format, m.Arch, m.Dataset = "arp-run", meta.Info.Spec.Arch, meta.Info.Dataset
	case KindONNX:
		m.Format, m.Arch = "onnx", "onnx"
	}
	return m, nil
}

// Class reads a class given as an index or a name (case-insensitive);
// errors start with what, the flag or field the class came from.
func (m *Model) Class(what, s string) (int, error) {
	names := m.ClassNames
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n >= len(names) {
			return 0, fmt.Errorf("%s %d: class index outside [0,%d)", what, n, len(names))
		}
		return n, nil
	}
	for i, name := range names {
		if strings.EqualFold(name, s) {
			return i, nil
		}
	}
	show := names
	if len(show) > 12 {
		show = append(append([]string(nil), show[:12]...), "...")
	}
	return 0, fmt.Errorf("%s %q: not a class index in [0,%d) or a class name (%s)", what, s, len(names), strings.Join(show, ", "))
}

// WeightsSHA256 returns the hex SHA-256 of the model's weights: the run's
// model.safetensors, or the ONNX file (which holds its weights).
func (m *Model) WeightsSHA256() (string, error) {
	return data.FileSHA256(m.weightsFile())
}

// WeightBytes returns the size of the file holding the model's weights
// (the run's model.safetensors, or the ONNX file): an estimate of the
// memory the loaded weights take, which both formats store as the float32
// values the model computes with.
func (m *Model) WeightBytes() (int64, error) {
	st, err := os.Stat(m.weightsFile())
	if err != nil {
		return 0, fmt.Errorf("model %v", err)
	}
	return st.Size(), nil
}

// weightsFile is the file that holds the model's weights.
func (m *Model) weightsFile() string {
	if m.Meta.Kind == KindRun {
		return filepath.Join(m.Meta.Path, rundir.Weights)
	}
	return m.Meta.Path
}

// MapLayer returns the layer attention maps are taken at: layer when given
// (from the --layer flag; errors start with "--layer"), else the model's
// default attention layer, whose errors name the file that declares it
// (model.json or the ONNX metadata), so that a bad default is not
// reported as a bad flag. Either must have a spatial map.
func (m *Model) MapLayer(layer string) (string, error) {
	if layer != "" {
		if err := attention.CheckMapLayer(m.Classifier, layer); err != nil {
			return "", fmt.Errorf("--layer %s: %v", layer, err)
		}
		return layer, nil
	}
	layer = m.Meta.AttentionLayer
	if err := attention.CheckMapLayer(m.Classifier, layer); err != nil {
		src := filepath.Join(m.Meta.Path, rundir.Info) + ": spec.attention_layer"
		if m.Meta.Kind == KindONNX {
			src = onnx.MetaPath(m.Meta.Path) + ": attention_layer"
			if _, serr := os.Stat(onnx.MetaPath(m.Meta.Path)); serr != nil {
				src = m.Meta.Path + ": the default attention layer"
			}
		}
		return "", fmt.Errorf("model %s %q: %v (pass --layer to use another)", src, layer, err)
	}
	return layer, nil
}

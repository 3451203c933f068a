package modelio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx"
	"github.com/arp-robustness/arp/rundir"
)

// Kinds of model.
const (
	KindRun  = "run"
	KindONNX = "onnx"
)

// Meta describes an opened model the same way for both kinds.
type Meta struct {
	Kind string // KindRun or KindONNX
	Path string // the run directory or the .onnx file
	// InputShape is [C,H,W]; the model takes pixels in [0,1].
	InputShape []int
	NumClasses int
	// ClassNames names the classes; it may be empty (see ClassName).
	ClassNames []string
	// AttentionLayer is the default Grad-CAM layer.
	AttentionLayer string
	// Info is model.json of a run directory (nil for ONNX files).
	Info *nn.Info
	// ONNX is the metadata of an ONNX file with its defaults filled in (nil
	// for run directories).
	ONNX *onnx.Meta
}

// ClassName returns the name of class i, or its number when the model has
// no class names.
func (m *Meta) ClassName(i int) string {
	if i >= 0 && i < len(m.ClassNames) {
		return m.ClassNames[i]
	}
	return fmt.Sprint(i)
}

// IsONNX reports whether path names an ONNX file (by its extension).
func IsONNX(path string) bool { return strings.EqualFold(filepath.Ext(path), ".onnx") }

// Open loads the model at path: a run directory (or its model.json or
// model.safetensors), or a .onnx file.
func Open(path string) (nn.Classifier, *Meta, error) {
	if path == "" {
		return nil, nil, errors.New("no model given: pass a run directory or a .onnx file")
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no such file or directory (want an arp run directory or a .onnx file)", path)
		}
		return nil, nil, err
	}
	dir := path
	switch {
	case st.IsDir():
	case IsONNX(path):
		return openONNX(path)
	case filepath.Base(path) == rundir.Info || filepath.Base(path) == rundir.Weights:
		dir = filepath.Dir(path)
	default:
		return nil, nil, fmt.Errorf("%s: not a run directory or .onnx file", path)
	}
	m, info, err := nn.LoadRun(dir)
	if err != nil {
		return nil, nil, err
	}
	return m, &Meta{Kind: KindRun, Path: dir, InputShape: m.InputShape(), NumClasses: m.NumClasses(),
		ClassNames: slices.Clone(info.ClassNames), AttentionLayer: m.Spec.Attention, Info: info}, nil
}

func openONNX(path string) (nn.Classifier, *Meta, error) {
	g, err := onnx.Load(path)
	if err != nil {
		return nil, nil, err
	}
	om := g.Meta()
	return g, &Meta{Kind: KindONNX, Path: path, InputShape: g.InputShape(), NumClasses: g.NumClasses(),
		ClassNames: slices.Clone(om.ClassNames), AttentionLayer: om.AttentionLayer, ONNX: &om}, nil
}

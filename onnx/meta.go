package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/limits"
)

// MetaFormat identifies arp's ONNX metadata files.
const MetaFormat = "arp-onnx-meta/1"

// MetaProp is the key of the metadata_props entry in which arp's exported
// files carry their Meta as JSON (used when no metadata file is present).
const MetaProp = "arp.meta"

// Meta describes how an ONNX classifier wants its input and what its
// outputs mean. It is read from a JSON file next to the model (MetaPath).
// Every field is optional when the graph itself settles it.
//
// arp's images are pixels in [0,1], RGB. The graph receives
//
//	(lo + x*(hi-lo) - mean[c]) / std[c]
//
// with [lo,hi] = Range, the channels reordered to ChannelOrder first; mean
// and std are in the units of Range and in the graph's channel order.
type Meta struct {
	Format string `json:"format,omitempty"` // MetaFormat (optional)
	// InputSize is [C,H,W]; default: the graph input's static shape.
	InputSize []int `json:"input_size,omitempty"`
	// ChannelOrder is "RGB" (default) or "BGR" (3 channels only).
	ChannelOrder string `json:"channel_order,omitempty"`
	// Range is the pixel scale [lo,hi] the graph expects before mean/std:
	// [0,1] (default), [-1,1], [0,255], ...
	Range []float64 `json:"range,omitempty"`
	// Mean and Std (1 or C values each) are subtracted and divided after
	// scaling to Range; default none (mean 0, std 1).
	Mean []float64 `json:"mean,omitempty"`
	Std  []float64 `json:"std,omitempty"`
	// ClassNames names the logits (optional).
	ClassNames []string `json:"class_names,omitempty"`
	// AttentionLayer is the default Grad-CAM layer; default: the last 4-D
	// layer with more than one spatial position.
	AttentionLayer string `json:"attention_layer,omitempty"`
	// Input names the image input when the graph has several inputs.
	Input string `json:"input,omitempty"`
	// Output names the value holding the logits (any value of the graph,
	// e.g. the one before a final Softmax); default: the first graph output.
	Output string `json:"output,omitempty"`
	// BackgroundClasses is the number of leading logits that no dataset
	// label names, such as the background class 0 of TF-slim's 1001-class
	// ImageNet models. arp drops them: the classifier has K -
	// BackgroundClasses logits, logit k being dataset label k. ClassNames
	// may list all K names (the leading ones are dropped too) or only the
	// remaining ones.
	BackgroundClasses int `json:"background_classes,omitempty"`
}

// MetaPath is the metadata file of an ONNX file: the same name with
// ".json" appended (model.onnx -> model.onnx.json).
func MetaPath(onnxPath string) string { return onnxPath + ".json" }

// ReadMeta returns the metadata of the ONNX file at onnxPath: its
// metadata file (MetaPath) when it exists, else the JSON in the model's
// metadata_props entry MetaProp (arp's exports carry one), else an empty
// Meta (defaults from the graph). m may be nil.
func ReadMeta(onnxPath string, m *Model) (Meta, error) {
	p := MetaPath(onnxPath)
	b, err := limits.ReadFile(p, limits.MaxJSONFile)
	switch {
	case err == nil:
		return ParseMeta(b, p)
	case !errors.Is(err, os.ErrNotExist):
		return Meta{}, err
	}
	if m != nil {
		if s, ok := m.Props[MetaProp]; ok {
			return ParseMeta([]byte(s), onnxPath+": metadata_props "+MetaProp)
		}
	}
	return Meta{}, nil
}

// ParseMeta decodes and validates metadata JSON; where names its source in
// errors. Unknown fields are errors (they are usually misspellings).
func ParseMeta(b []byte, where string) (Meta, error) {
	var m Meta
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("%s: invalid metadata JSON: %v", where, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Meta{}, fmt.Errorf("%s: invalid metadata JSON: data after the object", where)
	}
	if err := m.validate(); err != nil {
		return Meta{}, fmt.Errorf("%s: %v", where, err)
	}
	return m, nil
}

// WriteMeta writes m as indented JSON, atomically.
func WriteMeta(path string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return checkpoint.AtomicWriteFile(path, append(b, '\n'), 0o644)
}

func finite(name string, v []float64) error {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s %v: values must be finite", name, v)
		}
	}
	return nil
}

// validate checks the fields that do not depend on the graph.
func (m Meta) validate() error {
	if m.Format != "" && m.Format != MetaFormat {
		return fmt.Errorf("format %q, want %q", m.Format, MetaFormat)
	}
	if m.InputSize != nil {
		if len(m.InputSize) != 3 {
			return fmt.Errorf("input_size %v: want [C, H, W]", m.InputSize)
		}
		for _, d := range m.InputSize {
			if d < 1 {
				return fmt.Errorf("input_size %v: sizes must be positive", m.InputSize)
			}
		}
		if err := checkSize(m.InputSize); err != nil {
			return fmt.Errorf("input_size: %v", err)
		}
	}
	switch strings.ToUpper(m.ChannelOrder) {
	case "", "RGB", "BGR":
	default:
		return fmt.Errorf("channel_order %q: want RGB or BGR", m.ChannelOrder)
	}
	if m.Range != nil {
		if len(m.Range) != 2 {
			return fmt.Errorf("range %v: want [lo, hi], e.g. [0, 1], [-1, 1] or [0, 255]", m.Range)
		}
		if err := finite("range", m.Range); err != nil {
			return err
		}
		if m.Range[0] == m.Range[1] {
			return fmt.Errorf("range %v is empty", m.Range)
		}
	}
	if err := finite("mean", m.Mean); err != nil {
		return err
	}
	if err := finite("std", m.Std); err != nil {
		return err
	}
	for _, s := range m.Std {
		if s <= 0 {
			return fmt.Errorf("std %v: values must be positive", m.Std)
		}
	}
	if m.BackgroundClasses < 0 {
		return fmt.Errorf("background_classes %d: must be 0 or more", m.BackgroundClasses)
	}
	return nil
}

// withDefaults fills in the channel order and range.
func (m Meta) withDefaults() Meta {
	m = m.clone()
	m.Format = MetaFormat
	m.ChannelOrder = strings.ToUpper(m.ChannelOrder)
	if m.ChannelOrder == "" {
		m.ChannelOrder = "RGB"
	}
	if m.Range == nil {
		m.Range = []float64{0, 1}
	}
	return m
}

func (m Meta) clone() Meta {
	m.InputSize = slices.Clone(m.InputSize)
	m.Range = slices.Clone(m.Range)
	m.Mean = slices.Clone(m.Mean)
	m.Std = slices.Clone(m.Std)
	m.ClassNames = slices.Clone(m.ClassNames)
	return m
}

// affine returns the per-channel map x -> x*scale[c] + shift[c] from pixels
// in [0,1] to the graph's input scale.
func (m Meta) affine(c int) (scale, shift []float64) {
	lo, hi := 0.0, 1.0
	if len(m.Range) == 2 {
		lo, hi = m.Range[0], m.Range[1]
	}
	scale, shift = make([]float64, c), make([]float64, c)
	for i := 0; i < c; i++ {
		mean, std := 0.0, 1.0
		if len(m.Mean) == 1 {
			mean = m.Mean[0]
		} else if len(m.Mean) == c {
			mean = m.Mean[i]
		}
		if len(m.Std) == 1 {
			std = m.Std[0]
		} else if len(m.Std) == c {
			std = m.Std[i]
		}
		scale[i] = (hi - lo) / std
		shift[i] = (lo - mean) / std
	}
	return scale, shift
}

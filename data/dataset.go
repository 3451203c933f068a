package data

import (
	"fmt"
	"math"
)

// Box is an axis-aligned ground-truth box in continuous pixel coordinates of
// the stored image: the box covers x in [XMin, XMax) and y in [YMin, YMax),
// where pixel (x, y) spans [x, x+1) x [y, y+1). A box covering the whole
// W x H image is {0, 0, W, H}.
type Box struct {
	Label                  string
	XMin, YMin, XMax, YMax float64
}

// Area returns the box area in pixels.
func (b Box) Area() float64 { return math.Max(0, b.XMax-b.XMin) * math.Max(0, b.YMax-b.YMin) }

// Dataset is a set of labelled images held in memory.
//
// Images is NCHW float32 with values in [0,1] (see the package doc). Labels[i]
// indexes Classes. Masks and Boxes are nil when the dataset has no ground
// truth; otherwise they have one entry per image, and an entry may itself be
// nil for an image without ground truth. Sources, when not nil, names the file
// each image came from.
type Dataset struct {
	Name    string
	C, H, W int
	Images  []float32
	Labels  []int
	Classes []string
	Masks   [][]bool
	Boxes   [][]Box
	Sources []string
	// Preprocessing describes how images of other sizes were made to fit
	// (crop and resize), "" when they were not changed.
	Preprocessing string
}

// maxDatasetFloats bounds the pixels a loader decodes into memory (16 GB
// of float32); larger requests are refused before decoding.
const maxDatasetFloats = 4 << 30

// Len returns the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// ImageSize returns C*H*W, the number of values in one image.
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// Image returns image i as a CHW slice sharing memory with d.Images.
func (d *Dataset) Image(i int) []float32 {
	n := d.ImageSize()
	return d.Images[i*n : (i+1)*n : (i+1)*n]
}

// Mask returns the ground-truth mask of image i (H x W, row-major), or nil.
func (d *Dataset) Mask(i int) []bool {
	if d.Masks == nil {
		return nil
	}
	return d.Masks[i]
}

// Validate checks the internal consistency of d: slice lengths, label range
// and value range. Loaders always return valid datasets; Validate is for
// datasets built by hand.
func (d *Dataset) Validate() error {
	n := len(d.Labels)
	switch {
	case d.C <= 0 || d.H <= 0 || d.W <= 0:
		return fmt.Errorf("dataset %q: invalid shape %dx%dx%d", d.Name, d.C, d.H, d.W)
	case len(d.Images) != n*d.ImageSize():
		return fmt.Errorf("dataset %q: %d image values for %d images of %dx%dx%d", d.Name, len(d.Images), n, d.C, d.H, d.W)
	case d.Masks != nil && len(d.Masks) != n:
		return fmt.Errorf("dataset %q: %d masks for %d images", d.Name, len(d.Masks), n)
	case d.Boxes != nil && len(d.Boxes) != n:
		return fmt.Errorf("dataset %q: %d box lists for %d images", d.Name, len(d.Boxes), n)
	case d.Sources != nil && len(d.Sources) != n:
		return fmt.Errorf("dataset %q: %d sources for %d images", d.Name, len(d.Sources), n)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= len(d.Classes) {
			return fmt.Errorf("dataset %q: image %d: label %d out of range [0,%d)", d.Name, i, l, len(d.Classes))
		}
	}
	for i, m := range d.Masks {
		if m != nil && len(m) != d.H*d.W {
			return fmt.Errorf("dataset %q: image %d: mask has %d pixels, want %d", d.Name, i, len(m), d.H*d.W)
		}
	}
	for j, v := range d.Images {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("dataset %q: image %d: value %v outside [0,1]", d.Name, j/d.ImageSize(), v)
		}
	}
	return nil
}

// Subset returns a new dataset holding copies of the images with the given
// indices, in that order. It panics if an index is out of range (a
// programming error, not a user input).
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{Name: d.Name, C: d.C, H: d.H, W: d.W, Classes: d.Classes, Preprocessing: d.Preprocessing}
	n := d.ImageSize()
	s.Images = make([]float32, 0, len(idx)*n)
	s.Labels = make([]int, 0, len(idx))
	if d.Masks != nil {
		s.Masks = make([][]bool, 0, len(idx))
	}
	if d.Boxes != nil {
		s.Boxes = make([][]Box, 0, len(idx))
	}
	if d.Sources != nil {
		s.Sources = make([]string, 0, len(idx))
	}
	for _, i := range idx {
		s.Images = append(s.Images, d.Image(i)...)
		s.Labels = append(s.Labels, d.Labels[i])
		if d.Masks != nil {
			s.Masks = append(s.Masks, d.Masks[i])
		}
		if d.Boxes != nil {
			s.Boxes = append(s.Boxes, d.Boxes[i])
		}
		if d.Sources != nil {
			s.Sources = append(s.Sources, d.Sources[i])
		}
	}
	return s
}

// Split returns the first n images and the rest as two datasets (copies).
// n is clamped to [0, Len()].
func (d *Dataset) Split(n int) (first, rest *Dataset) {
	n = max(0, min(n, d.Len()))
	a := make([]int, n)
	b := make([]int, d.Len()-n)
	for i := range a {
		a[i] = i
	}
	for i := range b {
		b[i] = n + i
	}
	return d.Subset(a), d.Subset(b)
}

// Shuffled returns a copy of d with its images in a random order determined
// by seed.
func (d *Dataset) Shuffled(seed uint64) *Dataset {
	return d.Subset(Permutation(d.Len(), seed))
}

// ClassCounts returns the number of images of each class.
func (d *Dataset) ClassCounts() []int {
	c := make([]int, len(d.Classes))
	for _, l := range d.Labels {
		if l >= 0 && l < len(c) {
			c[l]++
		}
	}
	return c
}

// Summary describes a dataset; see Dataset.Summary.
type Summary struct {
	Name        string
	N, C, H, W  int
	Classes     []string
	ClassCounts []int
	Min, Max    float32 // smallest and largest pixel value
	Mean        float64 // mean pixel value
	WithMask    int     // images that have a ground-truth mask
	MaskArea    float64 // mean fraction of the image covered by the mask (over WithMask)
	WithBoxes   int     // images with at least one box
	BoxCount    int     // total number of boxes
	// Preprocessing is Dataset.Preprocessing.
	Preprocessing string
}

// Summary computes counts, shape, value range and ground-truth statistics.
func (d *Dataset) Summary() Summary {
	s := Summary{Name: d.Name, N: d.Len(), C: d.C, H: d.H, W: d.W, Classes: d.Classes, ClassCounts: d.ClassCounts(), Preprocessing: d.Preprocessing}
	if len(d.Images) > 0 {
		s.Min, s.Max = d.Images[0], d.Images[0]
		var sum float64
		for _, v := range d.Images {
			s.Min = min(s.Min, v)
			s.Max = max(s.Max, v)
			sum += float64(v)
		}
		s.Mean = sum / float64(len(d.Images))
	}
	var area float64
	for _, m := range d.Masks {
		if m == nil {
			continue
		}
		s.WithMask++
		k := 0
		for _, b := range m {
			if b {
				k++
			}
		}
		area += float64(k) / float64(len(m))
	}
	if s.WithMask > 0 {
		s.MaskArea = area / float64(s.WithMask)
	}
	for _, bs := range d.Boxes {
		if len(bs) > 0 {
			s.WithBoxes++
		}
		s.BoxCount += len(bs)
	}
	return s
}

// Thresholds that define the ground-truth object of a grayscale digit or
// fashion image: a pixel is part of the object when its value in [0,1] is
// strictly greater than the threshold. Digits are thick bright strokes on an
// exactly black background, so half intensity keeps the stroke and drops its
// anti-aliased rim; Fashion-MNIST garments can be dark, so a low threshold
// keeps the whole garment while still excluding the zero background.
const (
	DigitThreshold   = 0.5
	FashionThreshold = 0.1
)

// ObjectMask returns the pixels of a single-channel H x W image whose value
// is greater than thr, and the tight bounding box of those pixels (ok is false
// when no pixel passes).
func ObjectMask(img []float32, h, w int, thr float32) (mask []bool, box Box, ok bool) {
	mask = make([]bool, h*w)
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if img[y*w+x] > thr {
				mask[y*w+x] = true
				x0, y0 = min(x0, x), min(y0, y)
				x1, y1 = max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return mask, Box{}, false
	}
	return mask, Box{XMin: float64(x0), YMin: float64(y0), XMax: float64(x1 + 1), YMax: float64(y1 + 1)}, true
}

// addObjectTruth sets Masks and Boxes of a single-channel dataset from the
// object pixels above thr.
func (d *Dataset) addObjectTruth(thr float32) {
	d.Masks = make([][]bool, d.Len())
	d.Boxes = make([][]Box, d.Len())
	for i := range d.Masks {
		m, b, ok := ObjectMask(d.Image(i), d.H, d.W, thr)
		d.Masks[i] = m
		if ok {
			b.Label = d.Classes[d.Labels[i]]
			d.Boxes[i] = []Box{b}
		}
	}
}

// BoxMask rasterises boxes into an H x W mask: a pixel is set when its centre
// lies inside a box. A box too small to contain any pixel centre marks the
// pixel containing its own centre, so no box vanishes.
func BoxMask(boxes []Box, h, w int) []bool {
	m := make([]bool, h*w)
	for _, b := range boxes {
		x0 := max(0, int(math.Ceil(b.XMin-0.5)))
		x1 := min(w-1, int(math.Ceil(b.XMax-0.5))-1)
		y0 := max(0, int(math.Ceil(b.YMin-0.5)))
		y1 := min(h-1, int(math.Ceil(b.YMax-0.5))-1)
		if x0 > x1 || y0 > y1 {
			cx := min(w-1, max(0, int((b.XMin+b.XMax)/2)))
			cy := min(h-1, max(0, int((b.YMin+b.YMax)/2)))
			m[cy*w+cx] = true
			continue
		}
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				m[y*w+x] = true
			}
		}
	}
	return m
}

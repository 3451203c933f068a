package data

import (
	"fmt"
	"math/rand/v2"
)

// Range is the value scale images are handed to a model in. Datasets always
// store [0,1]; the conversion happens here and nowhere else.
type Range int

const (
	// Unit is [0,1]: the stored values, unchanged (the default).
	Unit Range = iota
	// Signed is [-1,1]: v -> 2v-1, the scale of the ARP paper's models.
	Signed
)

func (r Range) String() string {
	switch r {
	case Unit:
		return "[0,1]"
	case Signed:
		return "[-1,1]"
	}
	return fmt.Sprintf("Range(%d)", int(r))
}

// ParseRange accepts "0,1", "[0,1]", "unit", "-1,1", "[-1,1]" or "signed".
func ParseRange(s string) (Range, error) {
	switch s {
	case "0,1", "[0,1]", "unit", "":
		return Unit, nil
	case "-1,1", "[-1,1]", "signed":
		return Signed, nil
	}
	return 0, fmt.Errorf("unknown value range %q (want [0,1] or [-1,1])", s)
}

// FromUnit converts values in [0,1] to r, in place.
func (r Range) FromUnit(x []float32) {
	if r == Signed {
		for i, v := range x {
			x[i] = 2*v - 1
		}
	}
}

// ToUnit converts values in r back to [0,1], in place.
func (r Range) ToUnit(x []float32) {
	if r == Signed {
		for i, v := range x {
			x[i] = (v + 1) / 2
		}
	}
}

// Min and Max return the bounds of r.
func (r Range) Min() float32 {
	if r == Signed {
		return -1
	}
	return 0
}

// Max returns the upper bound of r (always 1).
func (r Range) Max() float32 { return 1 }

// newRand returns the project's seeded generator.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// Permutation returns a random permutation of 0..n-1 determined by seed.
func Permutation(n int, seed uint64) []int {
	return newRand(seed).Perm(n)
}

// FlipCHW mirrors a CHW image left-right in place.
func FlipCHW(img []float32, c, h, w int) {
	for k := 0; k < c*h; k++ {
		row := img[k*w : (k+1)*w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}

// flipMask returns a mirrored copy of an H x W mask.
func flipMask(m []bool, h, w int) []bool {
	if m == nil {
		return nil
	}
	out := make([]bool, len(m))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*w+x] = m[y*w+w-1-x]
		}
	}
	return out
}

// flipBoxes returns mirrored copies of boxes in an image of width w.
func flipBoxes(bs []Box, w int) []Box {
	if bs == nil {
		return nil
	}
	out := make([]Box, len(bs))
	for i, b := range bs {
		b.XMin, b.XMax = float64(w)-b.XMax, float64(w)-b.XMin
		out[i] = b
	}
	return out
}

// BatchOptions configures Dataset.Batches. This is the one place where
// images are preprocessed for a model.
type BatchOptions struct {
	// Size is the number of images per batch (required, > 0).
	Size int
	// DropLast drops a final batch smaller than Size.
	DropLast bool
	// Shuffle visits the images in a random order determined by Seed.
	Shuffle bool
	// Flip mirrors each image left-right with probability 1/2 (decided by
	// Seed); its mask and boxes are mirrored with it.
	Flip bool
	// Seed drives Shuffle and Flip.
	Seed uint64
	// Range is the value scale of the batch images (default Unit, [0,1]).
	Range Range
}

// Batch is a mini-batch: N images in NCHW layout, in the requested Range,
// with their labels, dataset indices and (when the dataset has them) masks
// and boxes, all transformed consistently with the images.
type Batch struct {
	N, C, H, W int
	Images     []float32
	Labels     []int
	Indices    []int
	Flipped    []bool
	Masks      [][]bool
	Boxes      [][]Box
}

// BatchIterator yields the mini-batches of one pass over a dataset.
type BatchIterator struct {
	d     *Dataset
	opt   BatchOptions
	order []int
	pos   int
	rng   *rand.Rand
}

// Batches returns an iterator over one epoch of mini-batches. Use a new
// Seed per epoch for a new order.
func (d *Dataset) Batches(opt BatchOptions) (*BatchIterator, error) {
	if opt.Size <= 0 {
		return nil, fmt.Errorf("batch size %d: must be positive", opt.Size)
	}
	if opt.Range != Unit && opt.Range != Signed {
		return nil, fmt.Errorf("unknown value range %v", opt.Range)
	}
	it := &BatchIterator{d: d, opt: opt, rng: newRand(opt.Seed)}
	if opt.Shuffle {
		it.order = it.rng.Perm(d.Len())
	} else {
		it.order = make([]int, d.Len())
		for i := range it.order {
			it.order[i] = i
		}
	}
	return it, nil
}

// Len returns the number of batches in the epoch.
func (it *BatchIterator) Len() int {
	n := len(it.order) / it.opt.Size
	if !it.opt.DropLast && len(it.order)%it.opt.Size != 0 {
		n++
	}
	return n
}

// Next returns the next batch, or false at the end of the epoch.
func (it *BatchIterator) Next() (*Batch, bool) {
	rest := len(it.order) - it.pos
	if rest <= 0 || (it.opt.DropLast && rest < it.opt.Size) {
		return nil, false
	}
	n := min(rest, it.opt.Size)
	idx := it.order[it.pos : it.pos+n]
	it.pos += n
	d := it.d
	b := &Batch{N: n, C: d.C, H: d.H, W: d.W, Indices: append([]int(nil), idx...)}
	sz := d.ImageSize()
	b.Images = make([]float32, n*sz)
	b.Labels = make([]int, n)
	b.Flipped = make([]bool, n)
	if d.Masks != nil {
		b.Masks = make([][]bool, n)
	}
	if d.Boxes != nil {
		b.Boxes = make([][]Box, n)
	}
	for j, i := range idx {
		img := b.Images[j*sz : (j+1)*sz]
		copy(img, d.Image(i))
		b.Labels[j] = d.Labels[i]
		flip := it.opt.Flip && it.rng.IntN(2) == 1
		b.Flipped[j] = flip
		if flip {
			FlipCHW(img, d.C, d.H, d.W)
		}
		if d.Masks != nil {
			if flip {
				b.Masks[j] = flipMask(d.Masks[i], d.H, d.W)
			} else {
				b.Masks[j] = d.Masks[i]
			}
		}
		if d.Boxes != nil {
			if flip {
				b.Boxes[j] = flipBoxes(d.Boxes[i], d.W)
			} else {
				b.Boxes[j] = d.Boxes[i]
			}
		}
	}
	it.opt.Range.FromUnit(b.Images)
	return b, true
}

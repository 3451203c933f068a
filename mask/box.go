package mask

import (
	"fmt"
	"math"
)

// Box is an axis-aligned rectangle in 0-based pixel coordinates, half-open:
// it covers columns XMin..XMax-1 and rows YMin..YMax-1, so its width is
// XMax-XMin.
type Box struct {
	XMin, YMin, XMax, YMax int
}

// VOCBox converts a Pascal VOC bounding box (1-based pixel indices with
// both corners inclusive, as stored in <bndbox>) to a Box.
func VOCBox(xmin, ymin, xmax, ymax int) Box {
	return Box{XMin: xmin - 1, YMin: ymin - 1, XMax: xmax, YMax: ymax}
}

// String formats the box as "[x0,x1)x[y0,y1)".
func (b Box) String() string {
	return fmt.Sprintf("[%d,%d)x[%d,%d)", b.XMin, b.XMax, b.YMin, b.YMax)
}

// Area returns the number of pixels the box covers (0 if empty). It
// assumes coordinates of image scale, whose products do not overflow.
func (b Box) Area() int {
	return max(0, b.XMax-b.XMin) * max(0, b.YMax-b.YMin)
}

// Resize maps a box drawn on a fromH x fromW image onto the same image
// resized to toH x toW. Edges are rounded outwards (floor for the minimum,
// ceil for the maximum) so the box never loses object pixels. Both sizes
// must be positive (they usually come from an annotation file).
func (b Box) Resize(fromH, fromW, toH, toW int) (Box, error) {
	if fromH <= 0 || fromW <= 0 || toH <= 0 || toW <= 0 {
		return Box{}, fmt.Errorf("resizing box %v from %dx%d to %dx%d: sizes must be positive", b, fromH, fromW, toH, toW)
	}
	sx := float64(toW) / float64(fromW)
	sy := float64(toH) / float64(fromH)
	return Box{
		XMin: int(math.Floor(float64(b.XMin) * sx)),
		YMin: int(math.Floor(float64(b.YMin) * sy)),
		XMax: int(math.Ceil(float64(b.XMax) * sx)),
		YMax: int(math.Ceil(float64(b.YMax) * sy)),
	}, nil
}

// BoxMask rasterises the union of boxes into an h x w mask. Boxes that
// stick out of the image are clipped to it; a box with XMin > XMax or
// YMin > YMax, or one entirely outside the image, is an error (it usually
// means the annotation belongs to another image or size). Empty boxes
// (XMin == XMax or YMin == YMax) set nothing.
func BoxMask(h, w int, boxes ...Box) ([]bool, error) {
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("box mask size %dx%d: height and width must be positive", h, w)
	}
	out := make([]bool, h*w)
	for k, b := range boxes {
		if b.XMin > b.XMax || b.YMin > b.YMax {
			return nil, fmt.Errorf("box %d %v: minimum corner exceeds maximum corner", k, b)
		}
		if b.XMin == b.XMax || b.YMin == b.YMax {
			continue
		}
		if b.XMax <= 0 || b.YMax <= 0 || b.XMin >= w || b.YMin >= h {
			return nil, fmt.Errorf("box %d %v lies entirely outside the %dx%d image", k, b, h, w)
		}
		x0, x1 := max(b.XMin, 0), min(b.XMax, w)
		y0, y1 := max(b.YMin, 0), min(b.YMax, h)
		for i := y0; i < y1; i++ {
			row := out[i*w+x0 : i*w+x1]
			for j := range row {
				row[j] = true
			}
		}
	}
	return out, nil
}

// Bounds returns the smallest Box containing every set pixel of an h x w
// mask; ok is false when the mask is empty.
func Bounds(mask []bool, h, w int) (b Box, ok bool) {
	checkLen("Bounds", "mask", len(mask), h, w)
	b = Box{XMin: w, YMin: h}
	for i := range h {
		for j := range w {
			if mask[i*w+j] {
				b.XMin, b.XMax = min(b.XMin, j), max(b.XMax, j+1)
				b.YMin, b.YMax = min(b.YMin, i), max(b.YMax, i+1)
				ok = true
			}
		}
	}
	if !ok {
		return Box{}, false
	}
	return b, true
}

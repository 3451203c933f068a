package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
)

// checkCHW reports whether img can be a c x h x w image that viz draws.
func checkCHW(fn string, img []float32, c, h, w int) error {
	if c != 1 && c != 3 {
		return fmt.Errorf("viz.%s: image has %d channels, want 1 (gray) or 3 (RGB)", fn, c)
	}
	if h <= 0 || w <= 0 {
		return fmt.Errorf("viz.%s: image size %dx%d, want positive height and width", fn, h, w)
	}
	if len(img) != c*h*w {
		return fmt.Errorf("viz.%s: image has %d values, want c*h*w = %d*%d*%d = %d", fn, len(img), c, h, w, c*h*w)
	}
	return nil
}

func checkLen(fn, name string, n, h, w int) {
	if h < 0 || w < 0 || n != h*w {
		panic(fmt.Sprintf("viz.%s: len(%s)=%d, want h*w=%d*%d=%d", fn, name, n, h, w, h*w))
	}
}

// rgb returns pixel i of a CHW image as floats in [0, 1].
func rgb(img []float32, c, hw, i int) (r, g, b float64) {
	if c == 1 {
		v := clamp01(float64(img[i]))
		return v, v, v
	}
	return clamp01(float64(img[i])), clamp01(float64(img[hw+i])), clamp01(float64(img[2*hw+i]))
}

// ToImage converts a CHW float image with values in [0, 1] to an RGBA
// image; one channel is drawn as gray.
func ToImage(img []float32, c, h, w int) (*image.RGBA, error) {
	if err := checkCHW("ToImage", img, c, h, w); err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range h * w {
		r, g, b := rgb(img, c, h*w, i)
		p := out.Pix[4*i : 4*i+4]
		p[0], p[1], p[2], p[3] = to8(r), to8(g), to8(b), 255
	}
	return out, nil
}

// Normalize rescales m linearly to [0, 1] (min to 0, max to 1), ignoring
// NaN and infinite values, which become 0. A constant map becomes all
// zeros.
func Normalize(m []float32) []float32 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range m {
		f := float64(v)
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			lo, hi = min(lo, f), max(hi, f)
		}
	}
	out := make([]float32, len(m))
	if !(hi > lo) {
		return out
	}
	for i, v := range m {
		f := float64(v)
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			out[i] = float32((f - lo) / (hi - lo))
		}
	}
	return out
}

// Heatmap draws an h x w map through a colour map after normalising it to
// [0, 1] with Normalize.
func Heatmap(m []float32, h, w int, cmap Colormap) *image.RGBA {
	checkLen("Heatmap", "m", len(m), h, w)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, v := range Normalize(m) {
		c := cmap(float64(v))
		copy(out.Pix[4*i:4*i+4], []uint8{c.R, c.G, c.B, 255})
	}
	return out
}

// Overlay blends the colour-mapped, normalised h x w map m over a CHW image
// (1 channel drawn as gray, or 3). Each pixel mixes image and colour with
// weight alpha*v, v the normalised map value: out = (1-alpha*v)*image +
// alpha*v*cmap(v). Pixels with v = 0 keep the image, so a map of zeros
// leaves the image unchanged. alpha is clamped to [0, 1]; to overlay a
// coarse map, resize it first (mask.ResizeBilinear).
func Overlay(img []float32, c, h, w int, m []float32, alpha float64, cmap Colormap) (*image.RGBA, error) {
	if err := checkCHW("Overlay", img, c, h, w); err != nil {
		return nil, err
	}
	if len(m) != h*w {
		return nil, fmt.Errorf("viz.Overlay: map has %d values, want %d for the %dx%d image (resize it first)", len(m), h*w, h, w)
	}
	alpha = clamp01(alpha)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, v := range Normalize(m) {
		r, g, b := rgb(img, c, h*w, i)
		col := cmap(float64(v))
		a := alpha * float64(v)
		p := out.Pix[4*i : 4*i+4]
		p[0] = to8((1-a)*r + a*float64(col.R)/255)
		p[1] = to8((1-a)*g + a*float64(col.G)/255)
		p[2] = to8((1-a)*b + a*float64(col.B)/255)
		p[3] = 255
	}
	return out, nil
}

// MaskImage draws an h x w mask as white (true) on black (false).
func MaskImage(mask []bool, h, w int) *image.RGBA {
	checkLen("MaskImage", "mask", len(mask), h, w)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, b := range mask {
		v := uint8(0)
		if b {
			v = 255
		}
		copy(out.Pix[4*i:4*i+4], []uint8{v, v, v, 255})
	}
	return out
}

// toRGBA copies any image into a new RGBA image with origin (0, 0).
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

// Outline returns a copy of img with the boundary of mask drawn in col. The
// mask has the image's size (row-major, height x width of img.Bounds()); its
// boundary is the set pixels with at least one of their four neighbours
// unset or outside the image, so the line lies on the mask's own edge pixels
// and is one pixel wide. Scale the image and the mask (mask.Upsample) before
// outlining to keep the line thin.
func Outline(img image.Image, mask []bool, col color.Color) *image.RGBA {
	out := toRGBA(img)
	h, w := out.Bounds().Dy(), out.Bounds().Dx()
	checkLen("Outline", "mask", len(mask), h, w)
	set := func(i, j int) bool { return i >= 0 && i < h && j >= 0 && j < w && mask[i*w+j] }
	for i := range h {
		for j := range w {
			if set(i, j) && (!set(i-1, j) || !set(i+1, j) || !set(i, j-1) || !set(i, j+1)) {
				out.Set(j, i, col)
			}
		}
	}
	return out
}

// Scale enlarges img by an integer factor with nearest neighbour, so that
// each pixel becomes a factor x factor block (e.g. 4 for 28x28 MNIST). A
// factor below 1 is treated as 1.
func Scale(img image.Image, factor int) *image.RGBA {
	src := toRGBA(img)
	factor = max(factor, 1)
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	out := image.NewRGBA(image.Rect(0, 0, w*factor, h*factor))
	for y := range h * factor {
		srow := src.Pix[(y/factor)*src.Stride:]
		drow := out.Pix[y*out.Stride:]
		for x := range w * factor {
			copy(drow[4*x:4*x+4], srow[4*(x/factor):4*(x/factor)+4])
		}
	}
	return out
}

package viz

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// A Colormap maps t in [0, 1] to an opaque colour. Values outside [0, 1] are
// clamped and NaN is treated as 0.
type Colormap func(t float64) color.RGBA

// Common colours for outlines and text.
var (
	White  = color.RGBA{255, 255, 255, 255}
	Black  = color.RGBA{0, 0, 0, 255}
	Red    = color.RGBA{230, 25, 25, 255}
	Green  = color.RGBA{0, 200, 80, 255}
	Yellow = color.RGBA{255, 221, 0, 255}
	Cyan   = color.RGBA{0, 220, 230, 255}
)

func clamp01(t float64) float64 {
	if !(t > 0) { // also NaN
		return 0
	}
	if t > 1 {
		return 1
	}
	return t
}

func to8(v float64) uint8 {
	return uint8(math.Round(255 * clamp01(v)))
}

// segment is one control point of a piecewise-linear channel.
type segment struct{ x, y float64 }

func piecewise(s []segment, t float64) float64 {
	i := sort.Search(len(s), func(i int) bool { return s[i].x >= t })
	if i == 0 {
		return s[0].y
	}
	if i == len(s) {
		return s[len(s)-1].y
	}
	a, b := s[i-1], s[i]
	return a.y + (b.y-a.y)*(t-a.x)/(b.x-a.x)
}

// The classic jet colour map (dark blue, blue, cyan, yellow, red, dark red),
// as the piecewise-linear channels of MATLAB's and matplotlib's "jet".
var (
	jetR = []segment{{0, 0}, {0.35, 0}, {0.66, 1}, {0.89, 1}, {1, 0.5}}
	jetG = []segment{{0, 0}, {0.125, 0}, {0.375, 1}, {0.64, 1}, {0.91, 0}, {1, 0}}
	jetB = []segment{{0, 0.5}, {0.11, 1}, {0.34, 1}, {0.65, 0}, {1, 0}}
)

// Jet maps 0 to dark blue (0, 0, 128), through cyan, green and yellow, to
// dark red (128, 0, 0) at 1.
func Jet(t float64) color.RGBA {
	t = clamp01(t)
	return color.RGBA{to8(piecewise(jetR, t)), to8(piecewise(jetG, t)), to8(piecewise(jetB, t)), 255}
}

// Nine evenly spaced samples of viridis, interpolated linearly in sRGB.
var viridis = [][3]float64{
	{0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x90, 0x8c},
	{0x27, 0xad, 0x81}, {0x5d, 0xc8, 0x63}, {0xaa, 0xdc, 0x32}, {0xfd, 0xe7, 0x25},
}

// Viridis maps 0 to dark purple (68, 1, 84) through blue and green to yellow
// (253, 231, 37) at 1. It is perceptually uniform and reads in gray print.
func Viridis(t float64) color.RGBA {
	t = clamp01(t) * float64(len(viridis)-1)
	i := min(int(t), len(viridis)-2)
	f := t - float64(i)
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(viridis[i][k] + f*(viridis[i+1][k]-viridis[i][k])))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// Gray maps 0 to black and 1 to white.
func Gray(t float64) color.RGBA {
	v := to8(t)
	return color.RGBA{v, v, v, 255}
}

// Hot maps 0 to black through red and yellow to white at 1.
func Hot(t float64) color.RGBA {
	t = clamp01(t)
	return color.RGBA{to8(3 * t), to8(3*t - 1), to8(3*t - 2), 255}
}

var colormaps = map[string]Colormap{"jet": Jet, "viridis": Viridis, "gray": Gray, "hot": Hot}

// ColormapNames lists the names ColormapByName accepts, sorted.
func ColormapNames() []string {
	return slices.Sorted(maps.Keys(colormaps))
}

// ColormapByName returns the colour map with the given name (case
// insensitive), e.g. from a command-line flag.
func ColormapByName(name string) (Colormap, error) {
	if c, ok := colormaps[strings.ToLower(name)]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("unknown colour map %q (valid: %s)", name, strings.Join(ColormapNames(), ", "))
}

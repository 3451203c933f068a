package viz

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

func TestColormaps(t *testing.T) {
	nanv := math.NaN()
	tests := []struct {
		name string
		cmap Colormap
		t    float64
		want color.RGBA
	}{
		{"jet 0", Jet, 0, color.RGBA{0, 0, 128, 255}},
		{"jet 1", Jet, 1, color.RGBA{128, 0, 0, 255}},
		{"jet 0.5", Jet, 0.5, color.RGBA{123, 255, 123, 255}},
		{"jet below", Jet, -3, color.RGBA{0, 0, 128, 255}},
		{"jet above", Jet, 7, color.RGBA{128, 0, 0, 255}},
		{"jet NaN", Jet, nanv, color.RGBA{0, 0, 128, 255}},
		{"viridis 0", Viridis, 0, color.RGBA{68, 1, 84, 255}},
		{"viridis 0.5", Viridis, 0.5, color.RGBA{0x21, 0x90, 0x8c, 255}},
		{"viridis 1", Viridis, 1, color.RGBA{253, 231, 37, 255}},
		{"gray 0", Gray, 0, color.RGBA{0, 0, 0, 255}},
		{"gray 0.5", Gray, 0.5, color.RGBA{128, 128, 128, 255}},
		{"gray 1", Gray, 1, color.RGBA{255, 255, 255, 255}},
		{"hot 0", Hot, 0, color.RGBA{0, 0, 0, 255}},
		{"hot 1", Hot, 1, color.RGBA{255, 255, 255, 255}},
	}
	for _, tt := range tests {
		if got := tt.cmap(tt.t); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Viridis and hot get brighter as t grows.
	for _, c := range []struct {
		name string
		cmap Colormap
	}{{"viridis", Viridis}, {"hot", Hot}, {"gray", Gray}} {
		prev := -1.0
		for i := range 101 {
			col := c.cmap(float64(i) / 100)
			l := 0.2126*float64(col.R) + 0.7152*float64(col.G) + 0.0722*float64(col.B)
			if l < prev-1e-9 {
				t.Errorf("%s: luminance falls at t=%v (%v < %v)", c.name, float64(i)/100, l, prev)
			}
			prev = l
		}
	}
}

func TestColormapByName(t *testing.T) {
	c, err := ColormapByName("Viridis")
	if err != nil || c(1) != Viridis(1) {
		t.Errorf("ColormapByName(Viridis) = %v, %v", c, err)
	}
	_, err = ColormapByName("rainbow")
	if err == nil || err.Error() != `unknown colour map "rainbow" (valid: gray, hot, jet, viridis)` {
		t.Errorf("ColormapByName(rainbow) error = %v", err)
	}
}

func rgbaAt(img *image.RGBA, x, y int) color.RGBA { return img.RGBAAt(x, y) }

func TestToImage(t *testing.T) {
	gray, err := ToImage([]float32{0, 0.5, 1, 2, -1, float32(math.NaN())}, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{0, 128, 255, 255, 0, 0}
	for i, v := range want {
		if got := rgbaAt(gray, i%3, i/3); got != (color.RGBA{v, v, v, 255}) {
			t.Errorf("gray pixel %d = %v, want gray %d", i, got, v)
		}
	}
	// 3 channels, 1x2: pixel 0 red, pixel 1 blue.
	rgb, err := ToImage([]float32{1, 0, 0, 0, 0, 1}, 3, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := rgbaAt(rgb, 0, 0), rgbaAt(rgb, 1, 0); a != (color.RGBA{255, 0, 0, 255}) || b != (color.RGBA{0, 0, 255, 255}) {
		t.Errorf("RGB pixels %v %v, want red and blue", a, b)
	}
	for _, tt := range []struct {
		img     []float32
		c, h, w int
		want    string
	}{
		{make([]float32, 8), 2, 2, 2, "viz.ToImage: image has 2 channels, want 1 (gray) or 3 (RGB)"},
		{make([]float32, 5), 1, 2, 2, "viz.ToImage: image has 5 values, want c*h*w = 1*2*2 = 4"},
		{nil, 3, 0, 2, "viz.ToImage: image size 0x2, want positive height and width"},
	} {
		if _, err := ToImage(tt.img, tt.c, tt.h, tt.w); err == nil || err.Error() != tt.want {
			t.Errorf("ToImage error %v, want %q", err, tt.want)
		}
	}
}

func TestHeatmapAndNormalize(t *testing.T) {
	h := Heatmap([]float32{2, 4, 3, 2}, 2, 2, Jet)
	if got := rgbaAt(h, 1, 0); got != Jet(1) {
		t.Errorf("max pixel %v, want Jet(1)", got)
	}
	if got := rgbaAt(h, 0, 0); got != Jet(0) {
		t.Errorf("min pixel %v, want Jet(0)", got)
	}
	if got := rgbaAt(h, 0, 1); got != Jet(0.5) {
		t.Errorf("mid pixel %v, want Jet(0.5)", got)
	}
	n := Normalize([]float32{5, 5, 5})
	for _, v := range n {
		if v != 0 {
			t.Errorf("Normalize of a constant map = %v, want zeros", n)
		}
	}
	n = Normalize([]float32{float32(math.NaN()), 1, 3, float32(math.Inf(1))})
	if n[0] != 0 || n[1] != 0 || n[2] != 1 || n[3] != 0 {
		t.Errorf("Normalize with NaN and Inf = %v, want [0 0 1 0]", n)
	}
}

func TestOverlay(t *testing.T) {
	const h, w = 4, 5
	img := make([]float32, 3*h*w)
	for i := range img {
		img[i] = float32(i%7) / 7
	}
	base, _ := ToImage(img, 3, h, w)
	for _, tt := range []struct {
		name  string
		m     []float32
		alpha float64
	}{
		{"zero map", make([]float32, h*w), 0.8},
		{"constant map", constant(h*w, 0.3), 0.8},
		{"alpha zero", func() []float32 { m := make([]float32, h*w); m[3] = 5; return m }(), 0},
	} {
		got, err := Overlay(img, 3, h, w, tt.m, tt.alpha, Jet)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, base.Pix) {
			t.Errorf("%s: overlay changed the image", tt.name)
		}
	}
	// A single hot pixel with alpha 1 takes the colour map's top colour and
	// leaves every other pixel alone.
	m := make([]float32, h*w)
	m[2*w+3] = 1
	got, err := Overlay(img, 3, h, w, m, 1, Viridis)
	if err != nil {
		t.Fatal(err)
	}
	for y := range h {
		for x := range w {
			want := rgbaAt(base, x, y)
			if x == 3 && y == 2 {
				want = Viridis(1)
			}
			if g := rgbaAt(got, x, y); g != want {
				t.Errorf("pixel (%d,%d) = %v, want %v", x, y, g, want)
			}
		}
	}
	// Gray images stay gray where the map is zero.
	g, err := Overlay([]float32{0.25, 0.5}, 1, 1, 2, []float32{0, 0}, 1, Jet)
	if err != nil || rgbaAt(g, 1, 0) != (color.RGBA{128, 128, 128, 255}) {
		t.Errorf("gray overlay pixel %v, %v", rgbaAt(g, 1, 0), err)
	}
	if _, err := Overlay(img, 3, h, w, make([]float32, 4), 1, Jet); err == nil ||
		err.Error() != "viz.Overlay: map has 4 values, want 20 for the 4x5 image (resize it first)" {
		t.Errorf("Overlay with a coarse map: error %v", err)
	}
	if _, err := Overlay(img, 4, h, w, m, 1, Jet); err == nil {
		t.Errorf("Overlay with 4 channels gave no error")
	}
}

func constant(n int, v float32) []float32 {
	m := make([]float32, n)
	for i := range m {
		m[i] = v
	}
	return m
}

func TestOutline(t *testing.T) {
	parse := func(s string) []bool {
		var m []bool
		for _, r := range strings.ReplaceAll(s, "/", "") {
			m = append(m, r == '1')
		}
		return m
	}
	tests := []struct {
		name, mask, want string // want: 1 where the outline colour is drawn
	}{
		{"square", "00000/01110/01110/01110/00000", "00000/01110/01010/01110/00000"},
		{"touches border", "11100/11100/11100/00000/00000", "11100/10100/11100/00000/00000"},
		{"all", "11111/11111/11111/11111/11111", "11111/10001/10001/10001/11111"},
		{"empty", "00000/00000/00000/00000/00000", "00000/00000/00000/00000/00000"},
		{"single", "00000/00000/00100/00000/00000", "00000/00000/00100/00000/00000"},
		{"notch", "00000/01000/01110/01110/00000", "00000/01000/01110/01110/00000"},
		{"thick", "00000/01110/01110/01110/01110", "00000/01110/01010/01010/01110"},
		{"diagonal corner", "00000/00000/00111/00111/00111", "00000/00000/00111/00101/00111"},
	}
	bg := image.NewRGBA(image.Rect(0, 0, 5, 5))
	for i := range bg.Pix {
		bg.Pix[i] = 40
	}
	for _, tt := range tests {
		out := Outline(bg, parse(tt.mask), Red)
		want := parse(tt.want)
		for y := range 5 {
			for x := range 5 {
				g := rgbaAt(out, x, y)
				if on := g == Red; on != want[y*5+x] {
					t.Errorf("%s: pixel (%d,%d) outlined=%v, want %v", tt.name, x, y, on, want[y*5+x])
				} else if !on && g != (color.RGBA{40, 40, 40, 40}) {
					t.Errorf("%s: pixel (%d,%d) changed to %v", tt.name, x, y, g)
				}
			}
		}
	}
	if bg.Pix[0] != 40 || bg.Pix[4*(2*5+2)] != 40 {
		t.Errorf("Outline modified its input")
	}
}

func TestScale(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 2, 1))
	src.SetRGBA(0, 0, Red)
	src.SetRGBA(1, 0, Cyan)
	out := Scale(src, 3)
	if out.Bounds() != image.Rect(0, 0, 6, 3) {
		t.Fatalf("Scale bounds %v, want 6x3", out.Bounds())
	}
	for y := range 3 {
		for x := range 6 {
			want := Red
			if x >= 3 {
				want = Cyan
			}
			if g := rgbaAt(out, x, y); g != want {
				t.Errorf("pixel (%d,%d) = %v, want %v", x, y, g, want)
			}
		}
	}
	if Scale(src, 0).Bounds() != src.Bounds() {
		t.Errorf("Scale by 0 changed the size")
	}
}

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func TestPanel(t *testing.T) {
	a, b := solid(40, 30, Red), solid(20, 50, Cyan)
	p := Panel(Captioned{a, "clean"}, Captioned{b, ""})
	// Widths: gap 8 + 40 + 8 + max(20, 0) + 8; height: 8 + 50 + 4 + one line (15) + 8.
	if got, want := p.Bounds(), image.Rect(0, 0, 84, 85); got != want {
		t.Fatalf("panel bounds %v, want %v", got, want)
	}
	if rgbaAt(p, 8, 8) != Red || rgbaAt(p, 47, 37) != Red || rgbaAt(p, 48, 8) != White {
		t.Errorf("first image not at (8,8)-(48,38)")
	}
	if rgbaAt(p, 56, 8) != Cyan || rgbaAt(p, 75, 57) != Cyan {
		t.Errorf("second image not at (56,8)-(76,58)")
	}
	// The caption "clean" is drawn in black under the first image only.
	dark := func(x0, x1, y0, y1 int) int {
		n := 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if c := rgbaAt(p, x, y); c.R < 128 && c.G < 128 && c.B < 128 {
					n++
				}
			}
		}
		return n
	}
	if n := dark(8, 48, 62, 77); n < 20 {
		t.Errorf("caption band under the first image has %d dark pixels, want text", n)
	}
	if n := dark(56, 76, 62, 85); n != 0 {
		t.Errorf("empty caption drew %d dark pixels", n)
	}
	// A long caption wraps to the image width; a long word widens its column.
	q := Panel(Captioned{solid(28, 28, Red), "adversarial prediction 6"})
	if q.Bounds().Dx() != 8+77+8 { // "adversarial" is 11 glyphs of 7 pixels
		t.Errorf("panel with a long word is %d wide, want %d", q.Bounds().Dx(), 8+77+8)
	}
	if q.Bounds().Dy() != 8+28+4+3*15+8 {
		t.Errorf("panel with a wrapped caption is %d high, want %d", q.Bounds().Dy(), 8+28+4+3*15+8)
	}
	big := DefaultLayout()
	big.TextScale = 2
	if r := big.Panel(Captioned{solid(10, 10, Red), "ab"}); r.Bounds() != image.Rect(0, 0, 8+28+8, 8+10+4+30+8) {
		t.Errorf("panel with doubled text has bounds %v", r.Bounds())
	}
	if r := Title(solid(100, 20, Red), "title"); r.Bounds() != image.Rect(0, 0, 116, 8+15+20+8) || rgbaAt(r, 8, 23) != Red {
		t.Errorf("Title bounds %v", r.Bounds())
	}
}

func TestGrid(t *testing.T) {
	imgs := []image.Image{solid(10, 10, Red), solid(20, 6, Cyan), solid(4, 4, Green)}
	g := Grid(2, imgs...)
	// Cells 20x10, 2 columns, 2 rows, gap 8.
	if want := image.Rect(0, 0, 8+2*28, 8+2*18); g.Bounds() != want {
		t.Fatalf("grid bounds %v, want %v", g.Bounds(), want)
	}
	if rgbaAt(g, 13, 8) != Red || rgbaAt(g, 36, 10) != Cyan || rgbaAt(g, 16, 29) != Green {
		t.Errorf("grid cells misplaced")
	}
	if Grid(0, imgs...).Bounds().Dy() != 8+10+8 {
		t.Errorf("Grid with cols 0 is not one row")
	}
	if Grid(3).Bounds().Empty() {
		t.Errorf("empty grid has an empty image")
	}
}

func TestPNG(t *testing.T) {
	img := Heatmap([]float32{0, 1, 2, 3, 4, 5}, 2, 3, Viridis)
	b, err := EncodePNG(img)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !sameImage(dec, img) {
		t.Errorf("PNG round trip changed the image")
	}
	uri := DataURI(b)
	if !strings.HasPrefix(uri, "data:image/png;base64,") {
		t.Fatalf("DataURI prefix: %.30s", uri)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/png;base64,"))
	if err != nil || !bytes.Equal(raw, b) {
		t.Errorf("DataURI does not decode to the PNG: %v", err)
	}
	if u, err := PNGDataURI(img); err != nil || u != uri {
		t.Errorf("PNGDataURI differs from DataURI(EncodePNG)")
	}
	if _, err := EncodePNG(image.NewRGBA(image.Rect(0, 0, 0, 0))); err == nil {
		t.Errorf("EncodePNG of an empty image gave no error")
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "map.png")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err = png.Decode(f)
	if err != nil || !sameImage(dec, img) {
		t.Errorf("WritePNG file does not decode to the image: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("WritePNG mode %v, want 0644", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("WritePNG left %d files in the directory, want 1", len(entries))
	}
	bad := filepath.Join(dir, "missing", "x.png")
	if err := WritePNG(bad, img); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("WritePNG into a missing directory: error %v, want one naming %s", err, bad)
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

// decodePlot decodes PNG bytes, checks the size and counts pixels of colour c.
func decodePlot(t *testing.T, name string, b []byte, err error, w, h int, c color.RGBA) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: PNG does not decode: %v", name, err)
	}
	if img.Bounds() != image.Rect(0, 0, w, h) {
		t.Errorf("%s: size %v, want %dx%d", name, img.Bounds().Size(), w, h)
	}
	n := 0
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				n++
			}
		}
	}
	if n < 20 {
		t.Errorf("%s: only %d pixels of the first series colour %v", name, n, c)
	}
}

func TestPlots(t *testing.T) {
	x := []float64{0, 0.1, 0.2, 0.3}
	b, err := LinePlot{Title: "accuracy", XLabel: "eps", YLabel: "acc", Width: 300, Height: 200,
		Series: []Series{{Name: "none", X: x, Y: []float64{1, .5, math.NaN(), .1}}, {Name: "arp", X: x, Y: []float64{1, .9, .8, .7}}}}.PNG()
	decodePlot(t, "line", b, err, 300, 200, Palette[0])

	b, err = Histogram{Title: "coverage", XLabel: "coverage", Bins: 10,
		Groups: []Group{{"attacked", []float64{.1, .2, .2, .3, math.NaN()}}, {"not", []float64{.7, .8}}}}.PNG()
	decodePlot(t, "histogram", b, err, DefaultPlotWidth, DefaultPlotHeight, Palette[0])

	b, err = BarChart{Title: "success", Categories: []string{"low", "mid", "high"}, Width: 400, Height: 300,
		Groups: []Bars{{"adv", []float64{.8, .5, .2}, []float64{.7, .4, .1}, []float64{.9, .6, .3}},
			{"arp", []float64{.6, math.NaN(), .1}, nil, nil}}}.PNG()
	decodePlot(t, "bars", b, err, 400, 300, Palette[0])

	errs := []struct {
		name string
		err  error
		want string
	}{
		{"line lengths", func() error {
			_, err := LinePlot{Title: "t", Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}.PNG()
			return err
		}(), `line plot "t": series 0 ("s") has 2 x values and 1 y values`},
		{"line empty", func() error { _, err := LinePlot{Title: "t"}.PNG(); return err }(), `line plot "t": no finite points to draw`},
		{"line size", func() error {
			_, err := LinePlot{Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{1}}}, Width: 10, Height: 10}.PNG()
			return err
		}(), "plot size 10x10 pixels: want between 100x80 and 10000x10000"},
		{"hist empty", func() error {
			_, err := Histogram{Title: "h", Groups: []Group{{"a", []float64{math.NaN()}}}}.PNG()
			return err
		}(), `histogram "h": no finite values to draw`},
		{"bars lengths", func() error {
			_, err := BarChart{Title: "b", Categories: []string{"x", "y"}, Groups: []Bars{{"g", []float64{1}, nil, nil}}}.PNG()
			return err
		}(), `bar chart "b": group "g" has 1 values, 0 lower and 0 upper bounds for 2 categories`},
		{"bars interval", func() error {
			_, err := BarChart{Title: "b", Categories: []string{"x"}, Groups: []Bars{{"g", []float64{.5}, []float64{.6}, []float64{.7}}}}.PNG()
			return err
		}(), `bar chart "b": group "g", category "x": interval [0.6, 0.7] does not contain the value 0.5`},
		{"bars empty", func() error { _, err := BarChart{Title: "b"}.PNG(); return err }(), `bar chart "b": no categories or no bars`},
	}
	for _, tt := range errs {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("%s: error %v, want %q", tt.name, tt.err, tt.want)
		}
	}

	path := filepath.Join(t.TempDir(), "line.png")
	if err := (LinePlot{Series: []Series{{Name: "s", X: x, Y: x}}}).WritePNG(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("LinePlot.WritePNG wrote nothing: %v", err)
	}
	if err := (LinePlot{Title: "t"}).WritePNG(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WritePNG of an empty plot: error %v, want one naming the path", err)
	}
}

// countNear counts the pixels of img inside r within tol of col in every
// channel.
func countNear(img image.Image, r image.Rectangle, col color.RGBA, tol int) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
			if d(c.R, col.R) <= tol && d(c.G, col.G) <= tol && d(c.B, col.B) <= tol {
				n++
			}
		}
	}
	return n
}

// TestFewPointsMarked: a series of one or a few points has no line to
// show it, so it keeps its markers when the plot asks for none; a dense
// series does not.
func TestFewPointsMarked(t *testing.T) {
	var x, y []float64
	for i := range FewPoints + 1 {
		x, y = append(x, float64(i)), append(y, 0.2)
	}
	// unnamed series: no legend, so every pixel of a colour is data
	img, err := LinePlot{NoPoints: true, YMin: 0, YMax: 1, Series: []Series{
		{X: x, Y: y}, {X: []float64{10}, Y: []float64{0.8}}, {X: []float64{5, 20}, Y: []float64{0.5, 0.6}}}}.Image()
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if n := countNear(img, b, Palette[1], 8); n < 30 {
		t.Errorf("one-point series: %d pixels of its colour, want a marker (30 or more)", n)
	}
	dense := countNear(img, b, Palette[0], 8)
	thin, err := LinePlot{NoPoints: true, YMin: 0, YMax: 1, Series: []Series{{X: x, Y: y}}}.Image()
	if err != nil {
		t.Fatal(err)
	}
	if n := countNear(thin, b, Palette[0], 8); n != dense {
		t.Errorf("dense series: %d pixels alone, %d with the others: want no markers either way", n, dense)
	}
	var marked int
	if m, err := (LinePlot{YMin: 0, YMax: 1, Series: []Series{{X: x, Y: y}}}).Image(); err != nil {
		t.Fatal(err)
	} else {
		marked = countNear(m, b, Palette[0], 8)
	}
	if marked < dense+100 {
		t.Errorf("dense series: %d pixels with markers, %d without: NoPoints should hide them", marked, dense)
	}
}

// TestCoincidingSeries: series drawn on top of each other all stay
// visible (the accuracy of several attacks that all reach 0%).
func TestCoincidingSeries(t *testing.T) {
	eps := []float64{0, 0.1, 0.2, 0.3}
	acc := []float64{0.98, 0.3, 0, 0}
	var ss []Series
	for _, n := range []string{"a", "b", "c", "d"} {
		ss = append(ss, Series{Name: n, X: eps, Y: acc})
	}
	ss = append(ss, Series{Name: "worst", X: eps, Y: acc, Envelope: true})
	img, err := LinePlot{YMin: 0, YMax: 1, Series: ss}.Image()
	if err != nil {
		t.Fatal(err)
	}
	// the plot area, left of the legend
	r := image.Rect(60, 20, DefaultPlotWidth-160, DefaultPlotHeight-50)
	for k := range 4 {
		if n := countNear(img, r, Palette[k], 10); n < 60 {
			t.Errorf("series %d of 4 coinciding: %d pixels of its colour in the plot area, want 60 or more", k, n)
		}
	}
	// the envelope: a gray band and black rings
	if n := countNear(img, r, color.RGBA{199, 199, 199, 255}, 12); n < 300 {
		t.Errorf("envelope band: %d gray pixels, want 300 or more", n)
	}
	if n := countNear(img, r, Black, 40); n < 60 {
		t.Errorf("envelope rings: %d black pixels, want 60 or more", n)
	}
}

// TestPlotFont: every text of a plot is set in FontFamily, the family the
// report's page names first.
func TestPlotFont(t *testing.T) {
	p := newPlot("title", "x", "y")
	p.Legend.Add("a")
	for name, f := range map[string]font.Font{"title": p.Title.TextStyle.Font, "x label": p.X.Label.TextStyle.Font,
		"y label": p.Y.Label.TextStyle.Font, "x ticks": p.X.Tick.Label.Font, "y ticks": p.Y.Tick.Label.Font, "legend": p.Legend.TextStyle.Font} {
		if !font.DefaultCache.Has(f) {
			t.Errorf("%s: font %v is not in gonum/plot's cache (it would fall back to another)", name, f)
			continue
		}
		face := font.DefaultCache.Lookup(f, f.Size)
		fam, err := face.Face.Name(nil, sfnt.NameIDFamily)
		if err != nil || fam != FontFamily {
			t.Errorf("%s: family %q (%v), want %q", name, fam, err, FontFamily)
		}
	}
}

// TestColorBar: the scale under a map runs through the colour map from
// left to right and carries the map's range; labels wider than a narrow
// image widen the picture.
func TestColorBar(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 50))
	out := ColorBar(img, Jet, 0.0021, 0.094)
	b := out.Bounds()
	if b.Dx() != 100 || b.Dy() <= 50+colorBarHeight {
		t.Fatalf("size %v, want 100 wide and taller than the image and strip", b)
	}
	y := 50 + 2 + colorBarHeight/2 // the strip's middle row
	if c := out.RGBAAt(0, y); c != Jet(0) {
		t.Errorf("left end %v, want jet(0) %v", c, Jet(0))
	}
	if c := out.RGBAAt(99, y); c != Jet(1) {
		t.Errorf("right end %v, want jet(1) %v", c, Jet(1))
	}
	if c := out.RGBAAt(50, y); c != Jet(50.0/99) {
		t.Errorf("middle %v, want jet(0.5) %v", c, Jet(50.0/99))
	}
	labels := image.Rect(0, 50+2+colorBarHeight+1, 100, b.Dy())
	if n := countNear(out, labels, Black, 60); n < 40 {
		t.Errorf("labels: %d dark pixels under the strip, want 40 or more", n)
	}
	// the labels "0.0021" and "0.094" (6 and 5 characters, 7 pixels each)
	if left, right := countNear(out, image.Rect(0, labels.Min.Y, 42, b.Dy()), Black, 60), countNear(out, image.Rect(65, labels.Min.Y, 100, b.Dy()), Black, 60); left < 20 || right < 20 {
		t.Errorf("label pixels: %d at the left end, %d at the right, want both", left, right)
	}
	narrow := ColorBar(image.NewRGBA(image.Rect(0, 0, 20, 20)), Jet, 0.0021, 0.094)
	if w := narrow.Bounds().Dx(); w < 7*(6+5+2) {
		t.Errorf("narrow image: width %d, too small for the labels", w)
	}
	if lo, hi := MapRange([]float32{0.5, float32(math.NaN()), -1, 2, float32(math.Inf(1))}); lo != -1 || hi != 2 {
		t.Errorf("MapRange = %v, %v, want -1, 2", lo, hi)
	}
	for v, want := range map[float64]string{0.0021: "0.0021", 0.094: "0.094", 1: "1", 2.1e-5: "2.1e-05", -0.35: "-0.35"} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%g) = %q, want %q", v, got, want)
		}
	}
}

// TestLongLabelsWrapped: a title or axis label wider than the plot is
// broken into lines instead of running off the image.
func TestLongLabelsWrapped(t *testing.T) {
	long := "coverage of the object by the clean attention (area-matched mask)"
	for _, tc := range []struct {
		name string
		draw func() (image.Image, error)
	}{
		{"line plot", LinePlot{Title: long + " " + long, XLabel: long, YLabel: long, Width: 300, Height: 300,
			Series: []Series{{Name: "a long series name", X: []float64{0, 1}, Y: []float64{0, 1}}}}.Image},
	} {
		img, err := tc.draw()
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		// the 8-pixel margin around the plot stays white
		for _, r := range []image.Rectangle{image.Rect(0, 0, 4, b.Dy()), image.Rect(b.Dx()-4, 0, b.Dx(), b.Dy()),
			image.Rect(0, 0, b.Dx(), 4), image.Rect(0, b.Dy()-4, b.Dx(), b.Dy())} {
			if n := countNear(img, r, White, 0); n != r.Dx()*r.Dy() {
				t.Errorf("%s: %d pixels drawn in the margin %v (text running off the plot)", tc.name, r.Dx()*r.Dy()-n, r)
			}
		}
	}
	sty := newPlot("", "", "").X.Label.TextStyle
	if got := wrapText(sty, "a b c", vg.Points(1000)); got != "a b c" {
		t.Errorf("a label that fits: %q", got)
	}
	w := vg.Points(150)
	got := wrapText(sty, long, w)
	for _, line := range strings.Split(got, "\n") {
		if sty.Width(line) > w {
			t.Errorf("line %q of %q is wider than %v", line, got, w)
		}
	}
	if strings.ReplaceAll(got, "\n", " ") != long {
		t.Errorf("wrapped %q lost words of %q", got, long)
	}
}

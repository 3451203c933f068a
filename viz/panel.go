package viz

import (
	"image"
	"image/color"
	"image/draw"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Captioned is an image with an optional caption drawn under it.
type Captioned struct {
	Image   image.Image
	Caption string
}

// Layout sets the spacing, colours and text size of panels, titles and
// grids. The zero value is usable (no gaps, black text on transparent);
// DefaultLayout gives the usual look.
type Layout struct {
	Gap        int         // pixels between items and around the border
	Background color.Color // fill behind images and text; nil for transparent
	Text       color.Color // caption and title colour; nil for black
	TextScale  int         // integer enlargement of the 7x13 font; below 1 means 1
}

// DefaultLayout returns an 8-pixel gap, black text on white and the native
// 7x13 font size.
func DefaultLayout() Layout {
	return Layout{Gap: 8, Background: White, Text: Black, TextScale: 1}
}

var face = basicfont.Face7x13

func (l Layout) scale() int { return max(l.TextScale, 1) }

// lineHeight is the height of one text line including spacing.
func (l Layout) lineHeight() int { return (face.Height + 2) * l.scale() }

func (l Layout) textWidth(s string) int {
	return font.MeasureString(face, s).Ceil() * l.scale()
}

// wrap breaks text into lines no wider than width pixels where possible
// (a single word wider than width gets a line of its own). Newlines in the
// text always break.
func (l Layout) wrap(text string, width int) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			if strings.TrimSpace(text) != "" {
				lines = append(lines, "")
			}
			continue
		}
		cur := words[0]
		for _, w := range words[1:] {
			if l.textWidth(cur+" "+w) <= width {
				cur += " " + w
			} else {
				lines = append(lines, cur)
				cur = w
			}
		}
		lines = append(lines, cur)
	}
	return lines
}

// widestWord returns the pixel width of the widest word of text.
func (l Layout) widestWord(text string) int {
	w := 0
	for _, word := range strings.Fields(text) {
		w = max(w, l.textWidth(word))
	}
	return w
}

// drawLines draws text lines centred in the band [x0, x0+width) starting at
// top y0.
func (l Layout) drawLines(dst *image.RGBA, lines []string, x0, width, y0 int) {
	col := l.Text
	if col == nil {
		col = Black
	}
	s := l.scale()
	for k, line := range lines {
		tw := l.textWidth(line)
		x := x0 + (width-tw)/2
		y := y0 + k*l.lineHeight()
		if s == 1 {
			d := font.Drawer{Dst: dst, Src: image.NewUniform(col), Face: face,
				Dot: fixed.P(x, y+face.Ascent+1)}
			d.DrawString(line)
			continue
		}
		// Draw at native size on a transparent tile, enlarge, then compose.
		tile := image.NewRGBA(image.Rect(0, 0, tw/s, face.Height+2))
		d := font.Drawer{Dst: tile, Src: image.NewUniform(col), Face: face, Dot: fixed.P(0, face.Ascent+1)}
		d.DrawString(line)
		big := Scale(tile, s)
		draw.Draw(dst, big.Bounds().Add(image.Pt(x, y)), big, image.Point{}, draw.Over)
	}
}

func (l Layout) canvas(w, h int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	if l.Background != nil {
		draw.Draw(out, out.Bounds(), image.NewUniform(l.Background), image.Point{}, draw.Src)
	}
	return out
}

// place draws img with its top-left corner at (x, y).
func place(dst *image.RGBA, img image.Image, x, y int) {
	b := img.Bounds()
	draw.Draw(dst, image.Rect(x, y, x+b.Dx(), y+b.Dy()), img, b.Min, draw.Over)
}

// Panel lays images side by side, top-aligned, each with its caption
// centred under it and wrapped to the image width (a column widens to fit
// its longest word). Nil images leave an empty column.
func (l Layout) Panel(items ...Captioned) *image.RGBA {
	gap := max(l.Gap, 0)
	widths := make([]int, len(items))
	captions := make([][]string, len(items))
	imgH, capLines := 0, 0
	for k, it := range items {
		if it.Image != nil {
			b := it.Image.Bounds()
			widths[k] = b.Dx()
			imgH = max(imgH, b.Dy())
		}
		widths[k] = max(widths[k], l.widestWord(it.Caption))
		captions[k] = l.wrap(it.Caption, widths[k])
		capLines = max(capLines, len(captions[k]))
	}
	W := gap
	for _, w := range widths {
		W += w + gap
	}
	H := gap + imgH + gap
	capTop := gap + imgH + gap/2
	if capLines > 0 {
		H = capTop + capLines*l.lineHeight() + gap
	}
	out := l.canvas(max(W, 1), max(H, 1))
	x := gap
	for k, it := range items {
		if it.Image != nil {
			place(out, it.Image, x+(widths[k]-it.Image.Bounds().Dx())/2, gap)
		}
		l.drawLines(out, captions[k], x, widths[k], capTop)
		x += widths[k] + gap
	}
	return out
}

// Title returns img with title centred above it, wrapped to the image
// width.
func (l Layout) Title(img image.Image, title string) *image.RGBA {
	gap := max(l.Gap, 0)
	b := img.Bounds()
	width := max(b.Dx(), l.widestWord(title))
	lines := l.wrap(title, width)
	top := gap + len(lines)*l.lineHeight()
	out := l.canvas(width+2*gap, top+b.Dy()+gap)
	l.drawLines(out, lines, gap, width, gap)
	place(out, img, gap+(width-b.Dx())/2, top)
	return out
}

// Grid arranges images in rows of cols cells, each cell as large as the
// largest image, images centred in their cells, e.g. a gallery of panels.
// cols below 1 means one row.
func (l Layout) Grid(cols int, imgs ...image.Image) *image.RGBA {
	gap := max(l.Gap, 0)
	if cols < 1 || cols > len(imgs) {
		cols = max(len(imgs), 1)
	}
	rows := (len(imgs) + cols - 1) / cols
	cw, ch := 0, 0
	for _, img := range imgs {
		if img != nil {
			cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
		}
	}
	out := l.canvas(max(gap+cols*(cw+gap), 1), max(gap+rows*(ch+gap), 1))
	for k, img := range imgs {
		if img == nil {
			continue
		}
		r, c := k/cols, k%cols
		b := img.Bounds()
		place(out, img, gap+c*(cw+gap)+(cw-b.Dx())/2, gap+r*(ch+gap)+(ch-b.Dy())/2)
	}
	return out
}

// Panel is DefaultLayout().Panel.
func Panel(items ...Captioned) *image.RGBA { return DefaultLayout().Panel(items...) }

// Title is DefaultLayout().Title.
func Title(img image.Image, title string) *image.RGBA { return DefaultLayout().Title(img, title) }

// Grid is DefaultLayout().Grid.
func Grid(cols int, imgs ...image.Image) *image.RGBA { return DefaultLayout().Grid(cols, imgs...) }

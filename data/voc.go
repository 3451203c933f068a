package data

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Annotation is a parsed Pascal VOC annotation file (the format of the
// ImageNet validation boxes). Boxes are converted from VOC's one-based,
// inclusive pixel indices [xmin, xmax] to the continuous coordinates of Box:
// [xmin-1, xmax). Width and Height are 0 when the file has no <size>.
type Annotation struct {
	Filename      string
	Width, Height int
	Boxes         []Box
}

type vocXML struct {
	XMLName  xml.Name `xml:"annotation"`
	Filename string   `xml:"filename"`
	Size     *struct {
		Width  string `xml:"width"`
		Height string `xml:"height"`
	} `xml:"size"`
	Objects []struct {
		Name string `xml:"name"`
		Box  *struct {
			XMin string `xml:"xmin"`
			YMin string `xml:"ymin"`
			XMax string `xml:"xmax"`
			YMax string `xml:"ymax"`
		} `xml:"bndbox"`
	} `xml:"object"`
}

// ParseVOC parses a Pascal VOC XML annotation. name is used in error
// messages. It checks that the XML is well formed, that the root element is
// <annotation>, that the size (if given) is positive, and that every object
// has a numeric box with xmin <= xmax and ymin <= ymax inside the image.
// Object errors carry the object's index as Record.
func ParseVOC(name string, b []byte) (*Annotation, error) {
	var v vocXML
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Record: -1, Msg: "malformed XML: no <annotation> element"}
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{File: name, Record: -1, Msg: fmt.Sprintf("malformed XML at line %d: %s", se.Line, se.Msg)}
		}
		return nil, &Error{File: name, Record: -1, Msg: "malformed XML: " + err.Error()}
	}
	// Anything but whitespace, comments or processing instructions after the
	// root element is malformed too.
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &Error{File: name, Record: -1, Msg: "malformed XML after </annotation>: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, &Error{File: name, Record: -1, Msg: "malformed XML: text after </annotation>"}
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, &Error{File: name, Record: -1, Msg: "malformed XML: content after </annotation>"}
		}
	}
	a := &Annotation{Filename: strings.TrimSpace(v.Filename)}
	if v.Size != nil {
		w, err1 := strconv.Atoi(strings.TrimSpace(v.Size.Width))
		h, err2 := strconv.Atoi(strings.TrimSpace(v.Size.Height))
		if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
			return nil, &Error{File: name, Record: -1, Msg: fmt.Sprintf("invalid <size>: width %q, height %q", v.Size.Width, v.Size.Height)}
		}
		a.Width, a.Height = w, h
	}
	for i, o := range v.Objects {
		label := strings.TrimSpace(o.Name)
		if o.Box == nil {
			return nil, &Error{File: name, Record: i, What: "object", Msg: fmt.Sprintf("%q has no <bndbox>", label)}
		}
		var c [4]float64
		for k, s := range []string{o.Box.XMin, o.Box.YMin, o.Box.XMax, o.Box.YMax} {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, &Error{File: name, Record: i, What: "object", Msg: fmt.Sprintf("%s %q of %q is not a number", [4]string{"xmin", "ymin", "xmax", "ymax"}[k], s, label)}
			}
			c[k] = f
		}
		bx := Box{Label: label, XMin: math.Max(0, c[0]-1), YMin: math.Max(0, c[1]-1), XMax: c[2], YMax: c[3]}
		if err := a.checkBox(name, i, label, c); err != nil {
			return nil, err
		}
		a.Boxes = append(a.Boxes, bx)
	}
	return a, nil
}

// checkBox validates VOC coordinates c = xmin, ymin, xmax, ymax against each
// other and the declared image size.
func (a *Annotation) checkBox(name string, i int, label string, c [4]float64) error {
	switch {
	case c[0] < 0 || c[1] < 0:
		return &Error{File: name, Record: i, What: "object", Msg: fmt.Sprintf("box (%g,%g)-(%g,%g) of %q has a negative coordinate", c[0], c[1], c[2], c[3], label)}
	case c[0] > c[2] || c[1] > c[3]:
		return &Error{File: name, Record: i, What: "object", Msg: fmt.Sprintf("box (%g,%g)-(%g,%g) of %q has xmin > xmax or ymin > ymax", c[0], c[1], c[2], c[3], label)}
	case a.Width > 0 && (c[2] > float64(a.Width) || c[3] > float64(a.Height)):
		return &Error{File: name, Record: i, What: "object", Msg: fmt.Sprintf("box (%g,%g)-(%g,%g) of %q lies outside the %dx%d image", c[0], c[1], c[2], c[3], label, a.Width, a.Height)}
	}
	return nil
}

// fitImage checks the annotation against the actual image size (w x h) and
// returns its boxes scaled to a th x tw image.
func (a *Annotation) fitImage(name string, w, h, tw, th int) ([]Box, error) {
	return a.fitCrop(name, w, h, 0, 0, w, h, tw, th)
}

// imagenetLabel returns the class of the first object, which must be one
// of the 1000 ILSVRC2012 synsets.
func (a *Annotation) imagenetLabel(name string) (int, error) {
	if len(a.Boxes) == 0 {
		return 0, &Error{File: name, Record: -1, Msg: "no <object>: cannot take the image's label from it"}
	}
	l := imagenetLabel(a.Boxes[0].Label)
	if l < 0 {
		return 0, &Error{File: name, Record: 0, What: "object", Msg: fmt.Sprintf("%q is not one of the 1000 ILSVRC2012 synsets", a.Boxes[0].Label)}
	}
	return l, nil
}

// fitCrop is fitImage for an image cropped to the window [x0, x0+cw) x
// [y0, y0+ch) before it is resized: boxes are clipped to the window (a box
// left with no area is dropped), moved and scaled.
func (a *Annotation) fitCrop(name string, w, h, x0, y0, cw, ch, tw, th int) ([]Box, error) {
	if a.Width > 0 && (a.Width != w || a.Height != h) {
		return nil, &Error{File: name, Record: -1, Msg: fmt.Sprintf("<size> says %dx%d but the image is %dx%d", a.Width, a.Height, w, h)}
	}
	sx, sy := float64(tw)/float64(cw), float64(th)/float64(ch)
	fx, fy := float64(x0), float64(y0)
	out := make([]Box, 0, len(a.Boxes))
	for i, b := range a.Boxes {
		if b.XMax > float64(w) || b.YMax > float64(h) {
			return nil, &Error{File: name, Record: i, What: "object", Msg: fmt.Sprintf("box (%g,%g)-(%g,%g) of %q lies outside the %dx%d image", b.XMin+1, b.YMin+1, b.XMax, b.YMax, b.Label, w, h)}
		}
		c := Box{Label: b.Label,
			XMin: math.Max(b.XMin, fx) - fx, YMin: math.Max(b.YMin, fy) - fy,
			XMax: math.Min(b.XMax, fx+float64(cw)) - fx, YMax: math.Min(b.YMax, fy+float64(ch)) - fy}
		if cw == w && ch == h {
			c = b // no crop: keep zero-area boxes as before
		} else if c.XMax <= c.XMin || c.YMax <= c.YMin {
			continue
		}
		out = append(out, Box{Label: c.Label, XMin: c.XMin * sx, YMin: c.YMin * sy, XMax: c.XMax * sx, YMax: c.YMax * sy})
	}
	return out, nil
}

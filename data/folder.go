package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register JPEG decoding
	_ "image/png"  // register PNG decoding
	"math"
	"os"
	"path/filepath"
	"strings"
)

// FolderOptions configures ReadFolder.
type FolderOptions struct {
	// Height and Width give the common size every image is resized to
	// (bilinear). Zero means the size of the first image (in sorted order).
	Height, Width int
	// Gray forces one channel. Otherwise images have three channels (RGB),
	// or one if every image in the folder is grayscale.
	Gray bool
	// Annotations is a directory holding Pascal VOC XML files named after the
	// images (e.g. n01440764_18.JPEG -> n01440764_18.xml), either directly
	// in it or in a sub-directory named after the class. Empty means the XML
	// file sits next to its image. Images without an XML file have no ground
	// truth.
	Annotations string
}

// maxImagePixels bounds the size of a decoded image.
const maxImagePixels = 1 << 26

func isImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// folderEntry is one image of a folder dataset.
type folderEntry struct {
	path, xml string
	label     int
	w, h      int
	gray      bool
	bad       bool // already reported
}

// listFolder finds the class sub-folders (sorted by name; hidden ones
// skipped) and their PNG/JPEG files (sorted by name).
func listFolder(root string, opt FolderOptions, p *problems) (classes []string, entries []folderEntry) {
	if err := checkDir(root); err != nil {
		p.addErr(err)
		return nil, nil
	}
	if opt.Annotations != "" {
		if err := checkDir(opt.Annotations); err != nil {
			p.addErr(err)
			return nil, nil
		}
	}
	des, err := os.ReadDir(root)
	if err != nil {
		p.add(root, -1, "%s", describeOSError(err))
		return nil, nil
	}
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") || (opt.Annotations != "" && filepath.Join(root, de.Name()) == filepath.Clean(opt.Annotations)) {
			continue
		}
		dir := filepath.Join(root, de.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			p.add(dir, -1, "%s", describeOSError(err))
			continue
		}
		label := len(classes)
		n := 0
		for _, f := range files {
			if f.IsDir() || !isImageFile(f.Name()) {
				continue
			}
			path := filepath.Join(dir, f.Name())
			entries = append(entries, folderEntry{path: path, xml: findXML(path, de.Name(), opt.Annotations), label: label})
			n++
		}
		if n == 0 {
			p.add(dir, -1, "class folder has no PNG or JPEG images")
		}
		classes = append(classes, de.Name())
	}
	if len(classes) == 0 {
		p.add(root, -1, "no class sub-folders (expected one folder of PNG/JPEG images per class)")
	}
	return classes, entries
}

func findXML(img, class, annDir string) string {
	base := strings.TrimSuffix(filepath.Base(img), filepath.Ext(img)) + ".xml"
	cands := []string{filepath.Join(filepath.Dir(img), base)}
	if annDir != "" {
		cands = []string{filepath.Join(annDir, class, base), filepath.Join(annDir, base)}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	return ""
}

// decodeImage decodes a PNG or JPEG file's bytes and returns it as a CHW
// float32 image with c channels (1 or 3) resized to h x w (0 keeps the
// original size), plus its original size.
func decodeImage(name string, b []byte, c, h, w int) (pix []float32, ow, oh int, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, 0, 0, &Error{File: name, Record: -1, Msg: "corrupt or unsupported image (want PNG or JPEG): " + err.Error()}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, 0, 0, &Error{File: name, Record: -1, Msg: fmt.Sprintf("unsupported %s image size %dx%d", format, cfg.Width, cfg.Height)}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, 0, &Error{File: name, Record: -1, Msg: fmt.Sprintf("corrupt %s image: %v", format, err)}
	}
	ow, oh = img.Bounds().Dx(), img.Bounds().Dy()
	if ow <= 0 || oh <= 0 {
		return nil, 0, 0, &Error{File: name, Record: -1, Msg: "empty image"}
	}
	if h <= 0 || w <= 0 {
		h, w = oh, ow
	}
	return resizeBilinear(toCHW(img, c), c, oh, ow, h, w), ow, oh, nil
}

// toCHW converts an image to c planes (1: luminance, 3: R, G, B) with values
// in [0,1]. Transparent pixels are composited onto black.
func toCHW(img image.Image, c int) []float32 {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := make([]float32, c*h*w)
	if g, ok := img.(*image.Gray); ok && c == 1 {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = float32(g.Pix[y*g.Stride+x]) / 255
			}
		}
		return out
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			col := img.At(r.Min.X+x, r.Min.Y+y)
			if c == 1 {
				g := color.Gray16Model.Convert(col).(color.Gray16)
				out[y*w+x] = float32(g.Y) / 65535
				continue
			}
			rr, gg, bb, _ := col.RGBA()
			out[y*w+x] = float32(rr) / 65535
			out[h*w+y*w+x] = float32(gg) / 65535
			out[2*h*w+y*w+x] = float32(bb) / 65535
		}
	}
	return out
}

// resizeBilinear resizes c planes of size ih x iw to oh x ow with bilinear
// interpolation, sampling at pixel centres (align-corners false). Output
// values stay in the range of the input.
func resizeBilinear(in []float32, c, ih, iw, oh, ow int) []float32 {
	if ih == oh && iw == ow {
		return in
	}
	out := make([]float32, c*oh*ow)
	sy, sx := float64(ih)/float64(oh), float64(iw)/float64(ow)
	for y := 0; y < oh; y++ {
		fy := math.Max(0, (float64(y)+0.5)*sy-0.5)
		y0 := min(int(fy), ih-1)
		y1 := min(y0+1, ih-1)
		wy := float32(fy - float64(y0))
		for x := 0; x < ow; x++ {
			fx := math.Max(0, (float64(x)+0.5)*sx-0.5)
			x0 := min(int(fx), iw-1)
			x1 := min(x0+1, iw-1)
			wx := float32(fx - float64(x0))
			for k := 0; k < c; k++ {
				p := in[k*ih*iw:]
				top := p[y0*iw+x0]*(1-wx) + p[y0*iw+x1]*wx
				bot := p[y1*iw+x0]*(1-wx) + p[y1*iw+x1]*wx
				v := top*(1-wy) + bot*wy
				out[k*oh*ow+y*ow+x] = min(1, max(0, v))
			}
		}
	}
	return out
}

func isGrayModel(m color.Model) bool {
	return m == color.GrayModel || m == color.Gray16Model
}

// ReadFolder loads an image-folder dataset: root holds one sub-folder per
// class (class names are the folder names, sorted), each holding PNG or JPEG
// images. Images are resized to a common size; optional Pascal VOC XML
// annotations give boxes, which are scaled with the image and rasterised into
// the ground-truth mask (see FolderOptions and BoxMask).
func ReadFolder(root string, opt FolderOptions) (*Dataset, error) {
	var p problems
	d := loadFolder(root, opt, &p)
	if !p.ok() {
		return nil, p.first()
	}
	return d, nil
}

func loadFolder(root string, opt FolderOptions, p *problems) *Dataset {
	classes, entries := listFolder(root, opt, p)
	if !p.ok() {
		return nil
	}
	// Pass 1: headers only, to fix the common size and channel count.
	allGray := true
	for i := range entries {
		e := &entries[i]
		f, err := os.Open(e.path)
		if err != nil {
			p.add(e.path, -1, "%s", describeOSError(err))
			e.bad = true
			continue
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			p.add(e.path, -1, "corrupt or unsupported image (want PNG or JPEG): %v", err)
			e.bad = true
			continue
		}
		e.w, e.h, e.gray = cfg.Width, cfg.Height, isGrayModel(cfg.ColorModel)
		allGray = allGray && e.gray
	}
	if !p.ok() && len(entries) == 0 {
		return nil
	}
	h, w := opt.Height, opt.Width
	if h <= 0 || w <= 0 {
		for _, e := range entries {
			if !e.bad {
				h, w = e.h, e.w
				break
			}
		}
	}
	c := 3
	if opt.Gray || allGray {
		c = 1
	}
	d := &Dataset{Name: root, C: c, H: h, W: w, Classes: classes}
	hasXML := false
	for _, e := range entries {
		hasXML = hasXML || e.xml != ""
	}
	if hasXML {
		d.Masks = make([][]bool, 0, len(entries))
		d.Boxes = make([][]Box, 0, len(entries))
	}
	for _, e := range entries {
		if e.bad {
			continue
		}
		b, err := os.ReadFile(e.path)
		if err != nil {
			p.add(e.path, -1, "%s", describeOSError(err))
			continue
		}
		pix, ow, oh, err := decodeImage(e.path, b, c, h, w)
		if err != nil {
			p.addErr(err)
			continue
		}
		var boxes []Box
		if e.xml != "" {
			xb, err := os.ReadFile(e.xml)
			if err != nil {
				p.add(e.xml, -1, "%s", describeOSError(err))
				continue
			}
			a, err := ParseVOC(e.xml, xb)
			if err == nil {
				boxes, err = a.fitImage(e.xml, ow, oh, w, h)
			}
			if err != nil {
				p.addErr(err)
				continue
			}
		}
		d.Images = append(d.Images, pix...)
		d.Labels = append(d.Labels, e.label)
		d.Sources = append(d.Sources, e.path)
		if hasXML {
			if e.xml != "" {
				d.Masks = append(d.Masks, BoxMask(boxes, h, w))
				d.Boxes = append(d.Boxes, boxes)
			} else {
				d.Masks = append(d.Masks, nil)
				d.Boxes = append(d.Boxes, nil)
			}
		}
	}
	if !p.ok() {
		return nil
	}
	return d
}

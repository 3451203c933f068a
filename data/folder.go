package data

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register JPEG decoding
	_ "image/png"  // register PNG decoding
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/arp-robustness/arp/limits"
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
	// CropFraction keeps the central fraction of each side of every image
	// before it is resized (0: the whole image). Boxes are clipped to the
	// crop.
	CropFraction float64
	// Labels is the ground-truth file of a flat ILSVRC2012 validation
	// folder (default: ILSVRC2012_validation_ground_truth.txt or
	// imagenet_2012_validation_synset_labels.txt in the folder or its
	// parent); see ParseImageNetLabels.
	Labels string
	// Limit, if positive, loads only the first Limit images (in load order).
	Limit int
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
	// labelFromXML: the label is the WordNet ID of the first object of
	// the XML file (flat ImageNet folders without a labels file).
	labelFromXML bool
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
	return decodeImageCrop(name, b, c, h, w, 0)
}

// decodeImageCrop is decodeImage with a central crop of the given fraction
// of each side before the resize (see Preprocessing).
func decodeImageCrop(name string, b []byte, c, h, w int, crop float64) (pix []float32, ow, oh int, err error) {
	return decodeImageInto(nil, name, b, c, h, w, crop)
}

// decodeImageInto is decodeImageCrop writing the image into dst when dst
// is not nil (dst must then hold c*h*w values).
func decodeImageInto(dst []float32, name string, b []byte, c, h, w int, crop float64) (pix []float32, ow, oh int, err error) {
	img, _, ie := readImage(b, maxImagePixels)
	if ie != nil {
		var msg string
		switch ie.kind {
		case imageUnknown:
			msg = "corrupt or unsupported image (want PNG or JPEG): " + ie.err.Error()
		case imageTooLarge:
			msg = fmt.Sprintf("unsupported %s image size %dx%d", ie.format, ie.w, ie.h)
		case imageCorrupt:
			msg = fmt.Sprintf("corrupt %s image: %v", ie.format, ie.err)
		default:
			msg = "empty image"
		}
		return nil, 0, 0, &Error{File: name, Record: -1, Msg: msg}
	}
	ow, oh = img.Bounds().Dx(), img.Bounds().Dy()
	x0, y0, cw, ch := Preprocessing{CropFraction: crop}.centralCrop(ow, oh)
	if h <= 0 || w <= 0 {
		h, w = ch, cw
	}
	full := toCHW(img, c)
	if cw != ow || ch != oh {
		cut := make([]float32, 0, c*cw*ch)
		for k := 0; k < c; k++ {
			for y := y0; y < y0+ch; y++ {
				cut = append(cut, full[k*oh*ow+y*ow+x0:k*oh*ow+y*ow+x0+cw]...)
			}
		}
		full = cut
	}
	if ch == h && cw == w {
		if dst == nil {
			return full, ow, oh, nil
		}
		return dst[:copy(dst, full)], ow, oh, nil
	}
	if dst == nil {
		dst = make([]float32, c*h*w)
	}
	resizeInto(dst, full, c, ch, cw, h, w)
	return dst, ow, oh, nil
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
	if c == 3 {
		// the decoders' own image types, read without boxing every pixel
		// into a color.Color (the same RGBA values as At gives)
		var at func(x, y int) (r, g, b, a uint32)
		switch src := img.(type) {
		case *image.YCbCr:
			at = func(x, y int) (uint32, uint32, uint32, uint32) { return src.YCbCrAt(x, y).RGBA() }
		case *image.Gray:
			at = func(x, y int) (uint32, uint32, uint32, uint32) { return src.GrayAt(x, y).RGBA() }
		case *image.NRGBA:
			at = func(x, y int) (uint32, uint32, uint32, uint32) { return src.NRGBAAt(x, y).RGBA() }
		case *image.RGBA:
			at = func(x, y int) (uint32, uint32, uint32, uint32) { return src.RGBAAt(x, y).RGBA() }
		case *image.CMYK:
			at = func(x, y int) (uint32, uint32, uint32, uint32) { return src.CMYKAt(x, y).RGBA() }
		}
		if at != nil {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					rr, gg, bb, _ := at(r.Min.X+x, r.Min.Y+y)
					out[y*w+x] = float32(rr) / 65535
					out[h*w+y*w+x] = float32(gg) / 65535
					out[2*h*w+y*w+x] = float32(bb) / 65535
				}
			}
			return out
		}
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
	resizeInto(out, in, c, ih, iw, oh, ow)
	return out
}

// resizeInto is resizeBilinear writing into out (c*oh*ow values).
func resizeInto(out, in []float32, c, ih, iw, oh, ow int) {
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
	s := openFolder(root, opt, &p)
	if !p.ok() {
		return nil, p.first()
	}
	return s.ReadAll()
}

// openFolder lists an image folder (see ReadFolder) and reads every
// image's header, to fix the common size and channel count: the Source of
// the folder, whose images are decoded when they are read.
func openFolder(root string, opt FolderOptions, p *problems) *Source {
	var classes []string
	var entries []folderEntry
	imagenet := isImageNetVal(root)
	if imagenet {
		classes, entries = listImageNetVal(root, opt, p)
	} else {
		classes, entries = listFolder(root, opt, p)
		if imagenet = isImageNetClassFolder(classes); imagenet {
			for i := range entries {
				entries[i].label = imagenetLabel(classes[entries[i].label])
			}
			classes = ImageNetClasses()
		}
	}
	if !p.ok() {
		return nil
	}
	if opt.Limit > 0 && len(entries) > opt.Limit {
		entries = entries[:opt.Limit]
	}
	var prep string
	if imagenet && opt.Height <= 0 && opt.Width <= 0 && opt.CropFraction == 0 {
		// ImageNet layouts default to the paper's Inception preprocessing.
		pp := InceptionPreprocessing
		opt.Height, opt.Width, opt.CropFraction = pp.Height, pp.Width, pp.CropFraction
		prep = "inception: " + pp.String()
	} else if opt.CropFraction > 0 || opt.Height > 0 {
		prep = Preprocessing{CropFraction: opt.CropFraction, Height: opt.Height, Width: opt.Width}.String()
	}
	// Headers only, to fix the common size and channel count.
	allGray := true
	var largest, largestFile int64
	for i := range entries {
		e := &entries[i]
		f, size, err := limits.Open(e.path, limits.MaxImageFile)
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
		largest, largestFile = max(largest, min(int64(e.w)*int64(e.h), maxImagePixels)), max(largestFile, size)
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
	if h > 0 && w > 0 && opt.CropFraction > 0 && opt.Height <= 0 {
		// Without a target size the first image's crop sets it.
		for _, e := range entries {
			if !e.bad {
				_, _, w, h = Preprocessing{CropFraction: opt.CropFraction}.centralCrop(e.w, e.h)
				break
			}
		}
	}
	// Labels a flat validation folder takes from the XML files are read
	// now: a job needs every label before it decodes images.
	hasXML := false
	labels := make([]int, len(entries))
	for i := range entries {
		e := &entries[i]
		hasXML = hasXML || e.xml != ""
		if e.labelFromXML && !e.bad {
			a, err := readVOC(e.xml)
			if err == nil {
				e.label, err = a.imagenetLabel(e.xml)
			}
			if err != nil {
				p.addErr(err)
				e.bad = true
			}
		}
		labels[i] = e.label
	}
	// with problems (reported in p) only Check goes on, to decode the
	// other images; the bad ones are left out
	return &Source{Name: root, C: c, H: h, W: w, Classes: classes, Labels: labels, Truth: hasXML, Preprocessing: prep,
		dec: &folderDecoder{entries: entries, c: c, h: h, w: w, crop: opt.CropFraction, hasXML: hasXML, largest: largest, largestFile: largestFile}}
}

package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io/fs"

	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/mask"
)

// MaxImagePixels bounds the size of a single image a command reads
// (DecodeImage); larger images are refused before they are decoded.
const MaxImagePixels = 1 << 23

// Image is one decoded PNG or JPEG file, as a command reads it for a model
// (see DecodeImage and ForModel).
type Image struct {
	Format string // "png" or "jpeg"
	H, W   int
	Gray   bool      // every pixel has R = G = B (within JPEG's chroma noise)
	Pix    []float32 // CHW: 1 plane when Gray, else R, G, B planes; values in [0,1]
	Alpha  bool      // some pixel is not opaque (composited onto black)
}

// ReadImage reads and decodes the PNG or JPEG file path (see DecodeImage).
func ReadImage(path string) (*Image, error) {
	b, err := limits.ReadFile(path, limits.MaxImageFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("image %s: no such file", path)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return nil, fmt.Errorf("image %s: %v", path, err)
	}
	return DecodeImage(path, b)
}

// DecodeImage decodes the PNG or JPEG bytes of the image file name (used
// in errors), refusing images over MaxImagePixels pixels before decoding.
// A gray colour model, or R = G = B at every pixel (JPEG: within 3 levels,
// taking the mean), gives a one-plane gray image.
func DecodeImage(name string, b []byte) (*Image, error) {
	img, format, ie := readImage(b, MaxImagePixels)
	if ie != nil {
		switch ie.kind {
		case imageUnknown:
			return nil, fmt.Errorf("image %s: not a PNG or JPEG file (%v)", name, ie.err)
		case imageTooLarge:
			return nil, fmt.Errorf("image %s: unsupported %s size %dx%d", name, ie.format, ie.w, ie.h)
		case imageCorrupt:
			return nil, fmt.Errorf("image %s: corrupt %s file: %v", name, ie.format, ie.err)
		default:
			return nil, fmt.Errorf("image %s: empty image", name)
		}
	}
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	d := &Image{Format: format, H: h, W: w}
	rgb := make([]float32, 3*h*w)
	var spread uint32 // largest difference between the channels of a pixel
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			cr, cg, cb, ca := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
			if ca != 0xffff {
				d.Alpha = true
			}
			spread = max(spread, max(cr, cg, cb)-min(cr, cg, cb))
			i := y*w + x
			rgb[i], rgb[h*w+i], rgb[2*h*w+i] = float32(cr)/65535, float32(cg)/65535, float32(cb)/65535
		}
	}
	// gray: a gray colour model, or R = G = B everywhere; JPEG's lossy
	// chroma may leave a gray picture a few levels off
	tol := uint32(0)
	if format == "jpeg" {
		tol = 3 * 0x101
	}
	switch m := img.ColorModel(); {
	case m == color.GrayModel || m == color.Gray16Model || spread == 0:
		d.Gray, d.Pix = true, rgb[:h*w]
	case spread <= tol:
		d.Gray, d.Pix = true, rgb[:h*w]
		for i := range d.Pix {
			d.Pix[i] = (rgb[i] + rgb[h*w+i] + rgb[2*h*w+i]) / 3
		}
	default:
		d.Pix = rgb
	}
	return d, nil
}

// ForModel converts the image (read from file name, used in errors) to a
// model's c x h x w input: channels only when that is unambiguous (gray
// repeated into 3 channels; colour refused by a 1-channel model), size
// only with resize (bilinear). The notes say what was converted.
func (d *Image) ForModel(name string, c, h, w int, resize bool) (img []float32, notes []string, err error) {
	have := 3
	if d.Gray {
		have = 1
	}
	switch {
	case c == have:
		img = d.Pix
	case c == 3 && have == 1:
		img = append(append(append([]float32(nil), d.Pix...), d.Pix...), d.Pix...)
		notes = append(notes, "gray image repeated into 3 channels")
	case c == 1 && have == 3:
		return nil, nil, fmt.Errorf("image %s is a colour (RGB) image but the model takes 1-channel (gray) images; convert it to grayscale first", name)
	default:
		return nil, nil, fmt.Errorf("image %s: the model takes %d-channel images; explain reads gray (1) or RGB (3) images", name, c)
	}
	if d.Alpha {
		notes = append(notes, "transparent pixels composited onto black")
	}
	if d.H != h || d.W != w {
		if !resize {
			return nil, nil, fmt.Errorf("image %s is %dx%d (height x width) but the model takes %dx%d images; pass --resize to resize it", name, d.H, d.W, h, w)
		}
		out := make([]float32, 0, c*h*w)
		for k := 0; k < c; k++ {
			p := mask.ResizeBilinear(img[k*d.H*d.W:(k+1)*d.H*d.W], d.H, d.W, h, w)
			for i := range p {
				p[i] = min(1, max(0, p[i]))
			}
			out = append(out, p...)
		}
		img = out
		notes = append(notes, fmt.Sprintf("resized from %dx%d to %dx%d (bilinear)", d.H, d.W, h, w))
	}
	return img, notes, nil
}

// What readImage found wrong.
const (
	imageUnknown  = iota // not a PNG or JPEG file
	imageTooLarge        // a size of zero or over the limit
	imageCorrupt         // the header read, the pixels did not
	imageEmpty           // no pixels
)

// imageError says what readImage found wrong; its callers word it for
// their context.
type imageError struct {
	kind   int
	format string
	w, h   int
	err    error
}

// readImage decodes PNG or JPEG bytes, refusing a size of zero or over
// maxPixels before decoding the pixels.
func readImage(b []byte, maxPixels int64) (image.Image, string, *imageError) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, "", &imageError{kind: imageUnknown, err: err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, format, &imageError{kind: imageTooLarge, format: format, w: cfg.Width, h: cfg.Height}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, format, &imageError{kind: imageCorrupt, format: format, err: err}
	}
	if img.Bounds().Dx() <= 0 || img.Bounds().Dy() <= 0 {
		return nil, format, &imageError{kind: imageEmpty, format: format}
	}
	return img, format, nil
}

package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/arp-robustness/arp/limits"
)

// IDX magic numbers of the two MNIST file kinds: unsigned-byte data with
// three dimensions (images) and one dimension (labels).
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
	idxUbyte       = 0x08
)

// maxFileBytes bounds the (decompressed) size of any dataset file read into
// memory.
const maxFileBytes = 1 << 31

// readFile reads a whole file, transparently decompressing gzip data
// (detected by its magic bytes 1f 8b, not by the file name).
func readFile(path string) ([]byte, error) {
	b, err := limits.ReadFile(path, limits.FitsMemory)
	if err != nil {
		return nil, &Error{File: path, Record: -1, Msg: describeOSError(err)}
	}
	return maybeGunzip(path, b)
}

func describeOSError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

func maybeGunzip(name string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, &Error{File: name, Record: -1, Msg: "corrupt gzip header: " + err.Error()}
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxFileBytes+1))
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return nil, &Error{File: name, Record: -1, Msg: "truncated gzip data"}
	case err != nil:
		return nil, &Error{File: name, Record: -1, Msg: "corrupt gzip data: " + err.Error()}
	case len(out) > maxFileBytes:
		return nil, &Error{File: name, Record: -1, Msg: fmt.Sprintf("decompressed data larger than %d bytes", maxFileBytes)}
	}
	return out, nil
}

// idxHeader parses the magic number and dimensions of an IDX file and checks
// that the data that follows has exactly the declared size. On truncation it
// reports the index of the first incomplete record and still returns the
// complete records, so Check can go on validating them.
func idxHeader(name string, b []byte, wantMagic uint32, p *problems) (dims []int, body []byte, ok bool) {
	kind := "images"
	if wantMagic == idxLabelsMagic {
		kind = "labels"
	}
	if len(b) < 4 {
		p.add(name, -1, "file too short for an IDX header (%d bytes)", len(b))
		return nil, nil, false
	}
	magic := binary.BigEndian.Uint32(b)
	if b[0] != 0 || b[1] != 0 {
		p.add(name, -1, "wrong magic number 0x%08x: not an IDX file (an IDX %s file starts with 0x%08x)", magic, kind, wantMagic)
		return nil, nil, false
	}
	if b[2] != idxUbyte {
		p.add(name, -1, "IDX data type 0x%02x not supported (want 0x08, unsigned byte)", b[2])
		return nil, nil, false
	}
	if magic != wantMagic {
		p.add(name, -1, "wrong magic number 0x%08x: %d dimensions, but an IDX %s file has magic 0x%08x", magic, b[3], kind, wantMagic)
		return nil, nil, false
	}
	nd := int(b[3])
	if len(b) < 4+4*nd {
		p.add(name, -1, "truncated IDX header (%d bytes, need %d)", len(b), 4+4*nd)
		return nil, nil, false
	}
	rec := int64(1)
	for i := 0; i < nd; i++ {
		d := binary.BigEndian.Uint32(b[4+4*i:])
		if d > 1<<30 {
			p.add(name, -1, "dimension %d is %d, implausibly large", i, d)
			return nil, nil, false
		}
		if i > 0 {
			if d == 0 {
				p.add(name, -1, "dimension %d is zero", i)
				return nil, nil, false
			}
			rec *= int64(d)
			if rec > 1<<24 {
				p.add(name, -1, "record size of %d values is implausibly large", rec)
				return nil, nil, false
			}
		}
		dims = append(dims, int(d))
	}
	body = b[4+4*nd:]
	n := int64(dims[0])
	if n == 0 {
		p.add(name, -1, "file declares zero %s", kind)
		return dims, nil, false
	}
	want := n * rec
	have := int64(len(body))
	switch {
	case have < want:
		complete := have / rec
		p.add(name, int(complete), "file truncated: header declares %d %s of %d bytes (%d bytes) but only %d data bytes follow; record %d is incomplete",
			n, kind, rec, want, have, complete)
		return dims, body[:complete*rec], false
	case have > want:
		p.add(name, -1, "%d unexpected bytes after the last of the %d declared %s", have-want, n, kind)
		return dims, body[:want], false
	}
	return dims, body, true
}

// decodeIDXImages parses an IDX images file (magic 0x00000803).
func decodeIDXImages(name string, b []byte, p *problems) (n, h, w int, pix []byte, ok bool) {
	dims, body, ok := idxHeader(name, b, idxImagesMagic, p)
	if dims == nil {
		return 0, 0, 0, nil, false
	}
	h, w = dims[1], dims[2]
	return len(body) / (h * w), h, w, body, ok
}

// decodeIDXLabels parses an IDX labels file (magic 0x00000801) and checks
// every label against nClasses.
func decodeIDXLabels(name string, b []byte, nClasses int, p *problems) (labels []int, ok bool) {
	_, body, ok := idxHeader(name, b, idxLabelsMagic, p)
	labels = make([]int, len(body))
	for i, v := range body {
		labels[i] = int(v)
		if int(v) >= nClasses {
			p.add(name, i, "label %d out of range [0,%d)", v, nClasses)
			ok = false
		}
	}
	return labels, ok && body != nil
}

// IDXOptions configures ReadIDX.
type IDXOptions struct {
	// Name is the dataset name; default: the images file name.
	Name string
	// Classes are the class names; labels must be below len(Classes).
	// Default: the digits "0" to "9".
	Classes []string
	// Threshold defines the ground-truth object pixels (value > Threshold);
	// default DigitThreshold.
	Threshold float32
}

// DigitClasses returns the class names "0" to "9".
func DigitClasses() []string {
	c := make([]string, 10)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}

// FashionClasses returns the ten Fashion-MNIST class names in label order.
func FashionClasses() []string {
	return []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
}

// ReadIDX loads an MNIST-style pair of IDX files (raw or gzip-compressed):
// 8-bit grayscale images (magic 0x00000803) and their labels (magic
// 0x00000801). Images become 1 x H x W with values byte/255; each image gets
// its object mask and bounding box as ground truth (see DigitThreshold).
func ReadIDX(imagesFile, labelsFile string, opt IDXOptions) (*Dataset, error) {
	ib, err := readFile(imagesFile)
	if err != nil {
		return nil, err
	}
	lb, err := readFile(labelsFile)
	if err != nil {
		return nil, err
	}
	var p problems
	d := decodeIDX(imagesFile, labelsFile, ib, lb, opt, &p)
	if !p.ok() {
		return nil, p.first()
	}
	return d, nil
}

func decodeIDX(imagesFile, labelsFile string, ib, lb []byte, opt IDXOptions, p *problems) *Dataset {
	s := idxSource(imagesFile, labelsFile, ib, lb, opt, p)
	if s == nil {
		return nil
	}
	return s.read(0, s.Len(), p)
}

// idxSource is the Source of an IDX images file's bytes ib and its labels
// file's bytes lb: the pixel bytes are kept, converted when read.
func idxSource(imagesFile, labelsFile string, ib, lb []byte, opt IDXOptions, p *problems) *Source {
	if opt.Classes == nil {
		opt.Classes = DigitClasses()
	}
	if opt.Threshold == 0 {
		opt.Threshold = DigitThreshold
	}
	if opt.Name == "" {
		opt.Name = imagesFile
	}
	n, h, w, pix, iok := decodeIDXImages(imagesFile, ib, p)
	labels, lok := decodeIDXLabels(labelsFile, lb, len(opt.Classes), p)
	if !iok || !lok {
		return nil
	}
	if len(labels) != n {
		p.add(labelsFile, -1, "has %d labels but %s has %d images", len(labels), imagesFile, n)
		return nil
	}
	return &Source{Name: opt.Name, C: 1, H: h, W: w, Labels: labels, Classes: opt.Classes, Truth: true,
		objectThr: opt.Threshold, dec: byteDecoder{pix: pix, per: h * w}}
}

// EncodeIDX writes images (N x H x W bytes) and labels in the IDX format
// (uncompressed). It is the inverse of ReadIDX's decoding, used to build test
// files and the embedded subset.
func EncodeIDX(imagesW, labelsW io.Writer, n, h, w int, pix []byte, labels []byte) error {
	if len(pix) != n*h*w || len(labels) != n {
		return fmt.Errorf("EncodeIDX: %d pixels and %d labels for %d images of %dx%d", len(pix), len(labels), n, h, w)
	}
	hdr := binary.BigEndian.AppendUint32(nil, idxImagesMagic)
	for _, d := range []int{n, h, w} {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	if _, err := imagesW.Write(append(hdr, pix...)); err != nil {
		return err
	}
	hdr = binary.BigEndian.AppendUint32(nil, idxLabelsMagic)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(n))
	_, err := labelsW.Write(append(hdr, labels...))
	return err
}

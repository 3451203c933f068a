package data

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/arp-robustness/arp/limits"
)

// Source is a dataset whose images are decoded when they are read: what it
// holds in memory is the list of images (labels, and for image folders the
// file names), not the pixels. Read decodes a range of images, so a job
// over a dataset far larger than memory (the 50,000 ImageNet validation
// images at 299x299 are 53.6 GB as float32) holds one range at a time.
//
// Every on-disk format Open reads has a Source (OpenSource): image folders
// and the ImageNet layouts decode the files of the range (JPEG, PNG, with
// their VOC boxes); IDX and CIFAR keep the files' bytes (one byte per
// pixel, a quarter of the decoded size) and convert the range. A Dataset
// already in memory becomes a Source with FromDataset. Read(lo, hi) gives
// exactly the images Open's Dataset holds at lo..hi-1, bit for bit: Open is
// OpenSource followed by reading every image.
type Source struct {
	// Name is the dataset's name (as Dataset.Name).
	Name    string
	C, H, W int
	// Classes are the class names; Labels[i] is image i's label, known
	// without decoding the image.
	Classes []string
	Labels  []int
	// Truth reports whether the images have ground truth: Read's Masks and
	// Boxes are then set (an entry may be nil for an image without).
	Truth bool
	// Preprocessing is Dataset.Preprocessing.
	Preprocessing string

	dec decoder
	// pos maps image i to its position in dec (nil: i itself).
	pos []int
	// objectThr > 0 derives the ground truth of single-channel images
	// from their object pixels (IDX: DigitThreshold or FashionThreshold).
	objectThr float32
}

// decoder decodes the images of a source at the given positions, in that
// order, into a Dataset with Images (and Masks, Boxes, Sources when it has
// them); problems go to p (and the images with one are left out).
type decoder interface {
	decode(pos []int, p *problems) *Dataset
	// scratch is the memory one decode call needs beyond its result.
	scratch() int64
}

// Len returns the number of images.
func (s *Source) Len() int { return len(s.Labels) }

// ImageSize returns C*H*W, the number of values in one image.
func (s *Source) ImageSize() int { return s.C * s.H * s.W }

// Need returns the bytes of memory reading n images takes: the decoded
// images (float32) with their ground-truth masks, and what decoding needs
// on the side (for image files: the largest file and its decoded pixels,
// per decoding thread). It is what a job that reads n images at a time
// holds of its dataset, beyond the list of images.
func (s *Source) Need(n int) int64 {
	per := int64(4 * s.ImageSize())
	if s.Truth || s.objectThr > 0 {
		per += int64(s.H * s.W)
	}
	v := limits.Need(per, n)
	if sc := s.dec.scratch(); v < 1<<62 && sc < 1<<62 {
		v += sc
	}
	return v
}

// FromDataset returns a Source that reads the images of d (held in
// memory) without copying them until they are read.
func FromDataset(d *Dataset) *Source {
	return &Source{Name: d.Name, C: d.C, H: d.H, W: d.W, Classes: d.Classes, Labels: d.Labels,
		Truth: d.Masks != nil, Preprocessing: d.Preprocessing, dec: memDecoder{d}}
}

// Read decodes images [lo, hi) into a Dataset of hi-lo images; its image
// j is the source's image lo+j. The memory it needs (Need) is checked
// against what is available first; an image that cannot be read or
// decoded is an *Error naming its file.
func (s *Source) Read(lo, hi int) (*Dataset, error) {
	if lo < 0 || hi > s.Len() || lo > hi {
		return nil, fmt.Errorf("%s: images %d-%d are outside its %d images", s.Name, lo, hi-1, s.Len())
	}
	if err := limits.Check(fmt.Sprintf("reading images %d-%d of %s (%dx%dx%d)", lo, hi-1, s.Name, s.C, s.H, s.W), s.Need(hi-lo)); err != nil {
		return nil, err
	}
	var p problems
	d := s.read(lo, hi, &p)
	if !p.ok() {
		return nil, p.first()
	}
	return d, nil
}

// read decodes images [lo, hi), collecting problems in p.
func (s *Source) read(lo, hi int, p *problems) *Dataset {
	pos := make([]int, hi-lo)
	for j := range pos {
		pos[j] = lo + j
		if s.pos != nil {
			pos[j] = s.pos[lo+j]
		}
	}
	d := s.dec.decode(pos, p)
	if !p.ok() || d == nil {
		return nil
	}
	d.Name, d.C, d.H, d.W, d.Classes, d.Preprocessing = s.Name, s.C, s.H, s.W, s.Classes, s.Preprocessing
	d.Labels = slices.Clone(s.Labels[lo:hi])
	if s.objectThr > 0 {
		d.addObjectTruth(s.objectThr)
	}
	return d
}

// ReadAll decodes every image into one Dataset, refusing (before decoding
// anything) a dataset of more than 16 GB of pixels or more than the memory
// available: a job over such a dataset reads it a range at a time (Read).
func (s *Source) ReadAll() (*Dataset, error) {
	if int64(s.Len())*int64(s.ImageSize()) > maxDatasetFloats {
		return nil, &Error{File: s.Name, Record: -1, Msg: fmt.Sprintf("%d images of %dx%dx%d need %.1f GB in memory, more than the %.0f GB limit: take fewer (--limit)",
			s.Len(), s.C, s.H, s.W, float64(s.Len())*float64(s.ImageSize())*4/1e9, float64(maxDatasetFloats)*4/1e9)}
	}
	return s.Read(0, s.Len())
}

// Subset returns a Source of the images with the given indices, in that
// order (nothing is decoded). It panics if an index is out of range (a
// programming error, not a user input).
func (s *Source) Subset(idx []int) *Source {
	v := *s
	v.Labels = make([]int, len(idx))
	v.pos = make([]int, len(idx))
	for j, i := range idx {
		if i < 0 || i >= s.Len() {
			panic(fmt.Sprintf("data: Subset index %d outside %d images", i, s.Len()))
		}
		v.Labels[j] = s.Labels[i]
		v.pos[j] = i
		if s.pos != nil {
			v.pos[j] = s.pos[i]
		}
	}
	return &v
}

// Head returns a Source of the first n images (all when n >= Len()).
func (s *Source) Head(n int) *Source {
	n = max(0, min(n, s.Len()))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// memDecoder reads a Dataset in memory.
type memDecoder struct{ d *Dataset }

func (m memDecoder) decode(pos []int, _ *problems) *Dataset {
	out := m.d.Subset(pos)
	out.Labels = nil
	return out
}

func (memDecoder) scratch() int64 { return 0 }

// byteDecoder converts 8-bit images stored one after another (IDX and
// CIFAR records, already CHW) to [0,1] floats.
type byteDecoder struct {
	pix []byte
	per int
}

func (b byteDecoder) decode(pos []int, _ *problems) *Dataset {
	d := &Dataset{Images: make([]float32, len(pos)*b.per)}
	for j, i := range pos {
		src := b.pix[i*b.per : (i+1)*b.per]
		dst := d.Images[j*b.per : (j+1)*b.per]
		for k, v := range src {
			dst[k] = float32(v) / 255
		}
	}
	return d
}

func (byteDecoder) scratch() int64 { return 0 }

// folderDecoder decodes image files: each is read, decoded, centrally
// cropped and resized to C x H x W, its VOC boxes fitted to the crop.
// The images of one call are decoded in parallel (one per core).
type folderDecoder struct {
	entries []folderEntry
	c, h, w int
	crop    float64
	hasXML  bool
	// largest is the most pixels of an image and the largest file.
	largest, largestFile int64
}

func (f *folderDecoder) threads(n int) int { return max(1, min(n, runtime.GOMAXPROCS(0))) }

func (f *folderDecoder) scratch() int64 {
	// the file, the decoded image (at most 4 bytes a pixel), its CHW
	// float32 copy and its crop
	return int64(f.threads(1<<30)) * (f.largestFile + f.largest*4 + 2*f.largest*4*int64(f.c))
}

// decoded is what one image of a folderDecoder call gave besides its
// pixels.
type decoded struct {
	ok    bool
	boxes []Box
	probs problems
}

func (f *folderDecoder) decode(pos []int, p *problems) *Dataset {
	per := f.c * f.h * f.w
	// every image is decoded straight into its place in the result
	d := &Dataset{Images: make([]float32, len(pos)*per)}
	out := make([]decoded, len(pos))
	var next sync.Mutex
	k := 0
	var wg sync.WaitGroup
	for range f.threads(len(pos)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				j := k
				k++
				next.Unlock()
				if j >= len(pos) {
					return
				}
				if e := &f.entries[pos[j]]; !e.bad {
					out[j].boxes, out[j].ok = f.one(e, d.Images[j*per:(j+1)*per], &out[j].probs)
				}
			}
		}()
	}
	wg.Wait()
	if f.hasXML {
		d.Masks = make([][]bool, 0, len(pos))
		d.Boxes = make([][]Box, 0, len(pos))
	}
	kept := 0
	for j, i := range pos {
		for _, e := range out[j].probs.list {
			p.addErr(e)
		}
		p.dropped += out[j].probs.dropped
		if !out[j].ok {
			continue // only Check goes on after a problem
		}
		if kept != j {
			copy(d.Images[kept*per:(kept+1)*per], d.Images[j*per:(j+1)*per])
		}
		kept++
		e := &f.entries[i]
		d.Sources = append(d.Sources, e.path)
		if f.hasXML {
			if e.xml != "" {
				d.Masks = append(d.Masks, BoxMask(out[j].boxes, f.h, f.w))
				d.Boxes = append(d.Boxes, out[j].boxes)
			} else {
				d.Masks = append(d.Masks, nil)
				d.Boxes = append(d.Boxes, nil)
			}
		}
	}
	d.Images = d.Images[:kept*per]
	return d
}

// one decodes the image of e into dst and fits its boxes.
func (f *folderDecoder) one(e *folderEntry, dst []float32, p *problems) ([]Box, bool) {
	b, err := limits.ReadFile(e.path, limits.MaxImageFile)
	if err != nil {
		p.add(e.path, -1, "%s", describeOSError(err))
		return nil, false
	}
	_, ow, oh, err := decodeImageInto(dst, e.path, b, f.c, f.h, f.w, f.crop)
	if err != nil {
		p.addErr(err)
		return nil, false
	}
	if e.xml == "" {
		return nil, true
	}
	a, err := readVOC(e.xml)
	if err != nil {
		p.addErr(err)
		return nil, false
	}
	x0, y0, cw, ch := Preprocessing{CropFraction: f.crop}.centralCrop(ow, oh)
	boxes, err := a.fitCrop(e.xml, ow, oh, x0, y0, cw, ch, f.w, f.h)
	if err != nil {
		p.addErr(err)
		return nil, false
	}
	return boxes, true
}

// readVOC reads and parses a Pascal VOC XML file.
func readVOC(path string) (*Annotation, error) {
	xb, err := limits.ReadFile(path, limits.MaxJSONFile)
	if err != nil {
		return nil, &Error{File: path, Record: -1, Msg: describeOSError(err)}
	}
	return ParseVOC(path, xb)
}

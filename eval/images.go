package eval

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/arp-robustness/arp/stats"
)

// ImageSet marks some of an evaluation's images (by their position in the
// evaluated set, 0 to Images-1): those classified correctly, or those
// robust under a threat's worst case. In JSON it is a base64 bitmap, bit
// i%8 (least significant first) of byte i/8 standing for image i, so that
// a report of 10,000 images carries each set in 1,668 characters; two
// reports of the same images pair image by image (PairImages).
type ImageSet []bool

// MarshalJSON writes the bitmap as a base64 string.
func (s ImageSet) MarshalJSON() ([]byte, error) {
	b := make([]byte, (len(s)+7)/8)
	for i, on := range s {
		if on {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON reads the bitmap; its length is a multiple of 8 until
// trimmed to the report's image count (Report.check).
func (s *ImageSet) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err != nil {
		return fmt.Errorf("image set: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(str)
	if err != nil {
		return fmt.Errorf("image set: %v", err)
	}
	out := make(ImageSet, 8*len(b))
	for i := range out {
		out[i] = b[i/8]&(1<<(i%8)) != 0
	}
	*s = out
	return nil
}

// trim cuts a decoded bitmap to n images; set bits beyond them, or too
// few bytes, are an error.
func (s *ImageSet) trim(n int, what string) error {
	if *s == nil {
		return nil
	}
	if len(*s) != (n+7)/8*8 {
		return fmt.Errorf("%s: a bitmap of %d images for %d", what, len(*s), n)
	}
	for _, on := range (*s)[n:] {
		if on {
			return fmt.Errorf("%s: images beyond the %d evaluated are marked", what, n)
		}
	}
	*s = (*s)[:n]
	return nil
}

// ImagePair is the paired comparison of two reports on the same images
// in one cell: the clean accuracy or a threat's worst case.
type ImagePair struct {
	Cell   string       `json:"cell"`
	Paired stats.Paired `json:"paired"`
}

// PairImages compares two reports of the same images image by image: the
// clean accuracy and the worst case of every threat both have, each with
// the difference a - b, Newcombe's 95% interval for paired proportions and
// the exact McNemar test. Both reports must carry their image sets (arp
// eval writes them; reports written before they existed can be combined
// again from their record files with arp merge) and have evaluated the
// same images.
func PairImages(a, b *Report) ([]ImagePair, error) {
	if err := sameImages(a, b); err != nil {
		return nil, err
	}
	if a.Correct == nil || b.Correct == nil {
		return nil, fmt.Errorf("a report without per-image outcomes (combine it again from its record file with arp merge)")
	}
	var out []ImagePair
	add := func(cell string, x, y ImageSet) error {
		if len(x) != a.Images || len(y) != a.Images {
			return fmt.Errorf("%s: per-image outcomes of %d and %d images for %d", cell, len(x), len(y), a.Images)
		}
		p, err := stats.PairedProportions(x, y, 0.95)
		if err != nil {
			return err
		}
		out = append(out, ImagePair{Cell: cell, Paired: p})
		return nil
	}
	if err := add("clean", a.Correct, b.Correct); err != nil {
		return nil, err
	}
	for _, ta := range a.Threats {
		for _, tb := range b.Threats {
			if ta.Norm == tb.Norm && ta.Eps == tb.Eps && ta.Robust != nil && tb.Robust != nil {
				if err := add(fmt.Sprintf("worst case %s eps %g", ta.Norm, ta.Eps), ta.Robust, tb.Robust); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// sameImages says whether two reports evaluated the same images in the
// same order.
func sameImages(a, b *Report) error {
	switch {
	case a.Data != b.Data:
		return fmt.Errorf("data %s vs %s", a.Data, b.Data)
	case a.Images != b.Images || a.DataImages != b.DataImages || a.Limit != b.Limit:
		return fmt.Errorf("images: %s vs %s", a.ImagesLine(), b.ImagesLine())
	case (a.Subset == nil) != (b.Subset == nil) || a.Subset != nil && !slices.Equal(a.Subset.Indices, b.Subset.Indices):
		return fmt.Errorf("other images: %s vs %s", a.ImagesLine(), b.ImagesLine())
	}
	return nil
}

package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synthDigits returns n h x w images, each black with a bright (255)
// rectangle whose position depends on the label, and labels i%10.
func synthDigits(n, h, w int) (pix, labels []byte) {
	pix = make([]byte, n*h*w)
	labels = make([]byte, n)
	for i := 0; i < n; i++ {
		l := i % 10
		labels[i] = byte(l)
		img := pix[i*h*w : (i+1)*h*w]
		x0, y0 := l%(w-2), l%(h-2)
		for y := y0; y < y0+2; y++ {
			for x := x0; x < x0+2; x++ {
				img[y*w+x] = 255
			}
		}
		img[(h-1)*w] = 100 // faint: below DigitThreshold, above FashionThreshold
	}
	return pix, labels
}

func idxBytes(t testing.TB, n, h, w int, pix, labels []byte) (ib, lb []byte) {
	t.Helper()
	var a, b bytes.Buffer
	if err := EncodeIDX(&a, &b, n, h, w, pix, labels); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes()
}

func gz(b []byte) []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeIDXDir writes an MNIST-style directory with nTrain and nTest
// synthetic 6x5 images, gzip-compressed.
func writeIDXDir(t testing.TB, dir string, nTrain, nTest int) {
	t.Helper()
	for _, s := range []struct {
		pre string
		n   int
	}{{"train", nTrain}, {"t10k", nTest}} {
		pix, labels := synthDigits(s.n, 6, 5)
		ib, lb := idxBytes(t, s.n, 6, 5, pix, labels)
		writeFile(t, filepath.Join(dir, s.pre+"-images-idx3-ubyte.gz"), gz(ib))
		writeFile(t, filepath.Join(dir, s.pre+"-labels-idx1-ubyte.gz"), gz(lb))
	}
}

// idxHeaderBytes builds an IDX header with the given magic and dimensions.
func idxHeaderBytes(magic uint32, dims ...uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return b
}

// cifarRecords builds n CIFAR records whose pixels encode the record index
// and whose label bytes are given by label(i, k).
func cifarRecords(n, labelBytes int, label func(i, k int) byte) []byte {
	labels := make([]byte, n*labelBytes)
	pix := make([]byte, n*cifarPixels)
	for i := 0; i < n; i++ {
		for k := 0; k < labelBytes; k++ {
			labels[i*labelBytes+k] = label(i, k)
		}
		for j := 0; j < cifarPixels; j++ {
			pix[i*cifarPixels+j] = byte(i + j/1024*50)
		}
	}
	b, err := EncodeCIFAR(labels, labelBytes, pix)
	if err != nil {
		panic(err)
	}
	return b
}

// testImage returns a w x h RGB image: red background, a blue rectangle at
// [x0,x1) x [y0,y1).
func testImage(w, h, x0, y0, x1, y1 int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{255, 0, 0, 255}
			if x >= x0 && x < x1 && y >= y0 && y < y1 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// vocXMLText builds a VOC annotation with the given size and boxes
// (VOC one-based inclusive coordinates).
func vocXMLText(w, h int, boxes ...[5]string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "<annotation>\n  <folder>x</folder>\n  <filename>img</filename>\n  <size><width>%d</width><height>%d</height><depth>3</depth></size>\n", w, h)
	for _, b := range boxes {
		fmt.Fprintf(&s, "  <object><name>%s</name><bndbox><xmin>%s</xmin><ymin>%s</ymin><xmax>%s</xmax><ymax>%s</ymax></bndbox></object>\n", b[0], b[1], b[2], b[3], b[4])
	}
	s.WriteString("</annotation>\n")
	return s.String()
}

// errContains fails unless err is non-nil and its message has every want
// substring.
func errContains(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// The fuzz targets check that no input makes a parser panic, and that what a
// parser accepts is consistent.

func FuzzIDX(f *testing.F) {
	pix, labels := synthDigits(3, 4, 4)
	var ib, lb []byte
	{
		a, b := idxBytes(f, 3, 4, 4, pix, labels)
		ib, lb = a, b
	}
	f.Add(ib, lb)
	f.Add(gz(ib), gz(lb))
	f.Add(ib[:20], lb[:9])
	f.Add(lb, ib)
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7}, []byte{0, 0, 8, 1, 0, 0, 0, 1, 9})
	f.Add([]byte{0x1f, 0x8b, 8, 0}, []byte{})
	f.Fuzz(func(t *testing.T, ib, lb []byte) {
		var p problems
		i, err1 := maybeGunzip("images", ib)
		l, err2 := maybeGunzip("labels", lb)
		if err1 != nil || err2 != nil {
			return
		}
		d := decodeIDX("images", "labels", i, l, IDXOptions{}, &p)
		if (d == nil) == p.ok() {
			t.Fatalf("dataset %v but problems %v", d != nil, p.list)
		}
		if d != nil {
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzCIFAR builds a CIFAR file from fuzzed label bytes (labelBytes per
// record, each followed by 3,072 pixel bytes derived from fill) and a fuzzed
// tail (a partial record or garbage), so that inputs stay small while the
// files span several records.
func FuzzCIFAR(f *testing.F) {
	f.Add([]byte{3, 9}, byte(7), []byte{}, uint8(1))
	f.Add([]byte{19, 99, 0, 0}, byte(0), []byte{}, uint8(2))
	f.Add([]byte{10}, byte(255), []byte{1, 2, 3}, uint8(1))
	f.Add([]byte{}, byte(1), []byte{5}, uint8(2))
	f.Add([]byte{20, 100}, byte(1), []byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, labelBytes []byte, fill byte, tail []byte, lbs uint8) {
		k := cifar10
		if lbs%2 == 0 {
			k = cifar100
		}
		if len(labelBytes) > 16*k.labelBytes {
			return
		}
		var b []byte
		for i := 0; i+k.labelBytes <= len(labelBytes); i += k.labelBytes {
			b = append(b, labelBytes[i:i+k.labelBytes]...)
			for j := 0; j < cifarPixels; j++ {
				b = append(b, fill+byte(i*j))
			}
		}
		b = append(b, tail...)
		var p problems
		labels, pix, ok := decodeCIFAR("batch.bin", b, k.labelBytes, k.labelBytes-1, k.nClasses, &p)
		if ok != p.ok() {
			t.Fatalf("ok=%v but problems %v", ok, p.list)
		}
		if len(pix) != len(labels)*cifarPixels || len(labels) != len(b)/(k.labelBytes+cifarPixels) {
			t.Fatalf("%d bytes: %d labels, %d pixel bytes", len(b), len(labels), len(pix))
		}
		if ok && len(b)%(k.labelBytes+cifarPixels) != 0 {
			t.Fatal("accepted a file with a partial record")
		}
		for _, l := range labels {
			if ok && l >= k.nClasses[k.labelBytes-1] {
				t.Fatalf("accepted label %d", l)
			}
		}
	})
}

func FuzzVOC(f *testing.F) {
	f.Add([]byte(vocXMLText(20, 10, [5]string{"dog", "1", "2", "10", "10"})), 20, 10)
	f.Add([]byte(vocXMLText(20, 10, [5]string{"dog", "1", "2", "30", "10"})), 20, 10)
	f.Add([]byte("<annotation><object><name>x</name><bndbox><xmin>1e300</xmin></bndbox></object></annotation>"), 5, 5)
	f.Add([]byte("<annotation><size>"), 1, 1)
	f.Add([]byte("<?xml version='1.0'?><!DOCTYPE a><annotation/>"), 3, 3)
	f.Fuzz(func(t *testing.T, b []byte, w, h int) {
		a, err := ParseVOC("a.xml", b)
		if err != nil {
			return
		}
		for _, bx := range a.Boxes {
			if !(bx.XMin <= bx.XMax && bx.YMin <= bx.YMax && bx.XMin >= 0 && bx.YMin >= 0) {
				t.Fatalf("accepted invalid box %+v", bx)
			}
		}
		if w <= 0 || h <= 0 || w > 64 || h > 64 {
			return
		}
		boxes, err := a.fitImage("a.xml", w, h, 8, 8)
		if err != nil {
			return
		}
		if m := BoxMask(boxes, 8, 8); len(m) != 64 {
			t.Fatalf("mask of %d pixels", len(m))
		}
	})
}

func FuzzImage(f *testing.F) {
	f.Add(pngBytes(f, testImage(5, 4, 1, 1, 3, 3)), uint8(3), uint8(6), uint8(6))
	f.Add(jpegBytes(f, testImage(9, 7, 1, 1, 3, 3)), uint8(1), uint8(3), uint8(2))
	f.Add([]byte("\x89PNG\r\n\x1a\n"), uint8(3), uint8(0), uint8(0))
	f.Add([]byte{0xff, 0xd8, 0xff}, uint8(1), uint8(4), uint8(4))
	f.Fuzz(func(t *testing.T, b []byte, c, h, w uint8) {
		ch := 3
		if c%2 == 1 {
			ch = 1
		}
		th, tw := int(h%40), int(w%40)
		pix, ow, oh, err := decodeImage("x.png", b, ch, th, tw)
		if err != nil {
			return
		}
		if th == 0 || tw == 0 {
			th, tw = oh, ow
		}
		if len(pix) != ch*th*tw {
			t.Fatalf("%d values for %dx%dx%d", len(pix), ch, th, tw)
		}
		for _, v := range pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("value %v outside [0,1]", v)
			}
		}
	})
}

// FuzzUntarGz: arbitrary bytes as a downloaded archive never panic and
// never write outside the extraction folder.
func FuzzUntarGz(f *testing.F) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "f/a.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
	tw.Write([]byte("abcd"))
	tw.Close()
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		arch := filepath.Join(dir, "a.tar.gz")
		if err := os.WriteFile(arch, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		err := untarGz(arch, "f", out, map[string]int64{"a.bin": 2})
		ents, _ := os.ReadDir(dir)
		if len(ents) != 2 {
			t.Fatalf("extraction wrote beside its folder: %v", ents)
		}
		if err == nil {
			if _, serr := os.Stat(filepath.Join(out, "f", "a.bin")); serr != nil {
				t.Fatalf("no error but no a.bin: %v", serr)
			}
		}
	})
}

// FuzzSourceRange reads fuzzed ranges of fuzzed IDX files through a
// Source: a range inside the images reads exactly those images of the
// dataset decoded whole; any other is refused with an error, never a
// panic.
func FuzzSourceRange(f *testing.F) {
	pix, labels := synthDigits(5, 4, 3)
	ib, lb := idxBytes(f, 5, 4, 3, pix, labels)
	f.Add(ib, lb, 0, 5)
	f.Add(ib, lb, 2, 3)
	f.Add(ib, lb, 3, 2)
	f.Add(ib, lb, -1, 6)
	f.Add(ib[:30], lb, 0, 1)
	f.Fuzz(func(t *testing.T, ib, lb []byte, lo, hi int) {
		var p problems
		s := idxSource("images", "labels", ib, lb, IDXOptions{}, &p)
		if s == nil {
			if p.ok() {
				t.Fatal("no source and no problem")
			}
			return
		}
		whole, err := s.ReadAll()
		if err != nil {
			return // over the memory bound
		}
		d, err := s.Read(lo, hi)
		if lo < 0 || hi > s.Len() || lo > hi {
			if err == nil {
				t.Fatalf("range %d-%d of %d images read", lo, hi, s.Len())
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		per := s.ImageSize()
		if !slices.Equal(d.Images, whole.Images[lo*per:hi*per]) || !slices.Equal(d.Labels, whole.Labels[lo:hi]) ||
			!reflect.DeepEqual(d.Masks, whole.Masks[lo:hi]) || !reflect.DeepEqual(d.Boxes, whole.Boxes[lo:hi]) {
			t.Fatalf("range %d-%d differs from the whole", lo, hi)
		}
	})
}

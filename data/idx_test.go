package data

import (
	"path/filepath"
	"testing"
)

func TestReadIDX(t *testing.T) {
	pix, labels := synthDigits(12, 6, 5)
	ib, lb := idxBytes(t, 12, 6, 5, pix, labels)
	for _, tc := range []struct {
		name       string
		zipI, zipL bool
	}{
		{"raw", false, false},
		{"gzip", true, true},
		{"mixed", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			i, l := ib, lb
			if tc.zipI {
				i = gz(i)
			}
			if tc.zipL {
				l = gz(l)
			}
			// Names say nothing about compression: it is detected by magic.
			d, err := ReadIDX(writeFile(t, filepath.Join(dir, "im"), i), writeFile(t, filepath.Join(dir, "lb"), l), IDXOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if d.Len() != 12 || d.C != 1 || d.H != 6 || d.W != 5 || len(d.Classes) != 10 {
				t.Fatalf("got %d images %dx%dx%d %d classes", d.Len(), d.C, d.H, d.W, len(d.Classes))
			}
			for k := range pix {
				if want := float32(pix[k]) / 255; d.Images[k] != want {
					t.Fatalf("value %d = %v, want %v", k, d.Images[k], want)
				}
			}
			for k, want := range labels {
				if d.Labels[k] != int(want) {
					t.Fatalf("label %d = %d, want %d", k, d.Labels[k], want)
				}
			}
			// Ground truth of image 7 (label 7): the 2x2 square at x0=7%3=1, y0=7%4=3.
			want := Box{Label: "7", XMin: 1, YMin: 3, XMax: 3, YMax: 5}
			if len(d.Boxes[7]) != 1 || d.Boxes[7][0] != want {
				t.Fatalf("box of image 7 = %+v, want %+v", d.Boxes[7], want)
			}
			n := 0
			for _, b := range d.Masks[7] {
				if b {
					n++
				}
			}
			if n != 4 || !d.Masks[7][3*5+1] || d.Masks[7][5*5] {
				t.Fatalf("mask of image 7 has %d pixels, want the 4 of the square only", n)
			}
		})
	}
}

func TestReadIDXBad(t *testing.T) {
	pix, labels := synthDigits(4, 6, 5)
	ib, lb := idxBytes(t, 4, 6, 5, pix, labels)
	zi := gz(ib)
	badLabels := append([]byte(nil), lb...)
	badLabels[8+2] = 10
	for _, tc := range []struct {
		name       string
		images     []byte
		labels     []byte
		bad        string // which file the error names: "im" or "lb"
		want       string
		skipWriteI bool
	}{
		{"truncated images data", ib[:len(ib)-7], lb, "im", "record 3: file truncated", false},
		{"truncated images header", ib[:10], lb, "im", "truncated IDX header", false},
		{"short file", ib[:2], lb, "im", "too short", false},
		{"empty file", nil, lb, "im", "too short", false},
		{"truncated labels", ib, lb[:len(lb)-1], "lb", "record 3: file truncated", false},
		{"truncated gzip", zi[:len(zi)-5], lb, "im", "truncated gzip", false},
		{"wrong magic (not IDX)", append([]byte{0x50, 0x4b, 3, 4}, ib[4:]...), lb, "im", "wrong magic number 0x504b0304", false},
		{"labels given as images", lb, lb, "im", "wrong magic number 0x00000801", false},
		{"images given as labels", ib, ib, "lb", "wrong magic number 0x00000803", false},
		{"unsupported type", append([]byte{0, 0, 0x0d, 3}, ib[4:]...), lb, "im", "data type 0x0d", false},
		{"count mismatch", ib, append(idxHeaderBytes(idxLabelsMagic, 3), lb[8:11]...), "lb", "has 3 labels but", false},
		{"label out of range", ib, badLabels, "lb", "record 2: label 10 out of range [0,10)", false},
		{"trailing bytes", append(append([]byte(nil), ib...), 1, 2), lb, "im", "2 unexpected bytes", false},
		{"zero images", idxHeaderBytes(idxImagesMagic, 0, 6, 5), idxHeaderBytes(idxLabelsMagic, 0), "im", "zero images", false},
		{"zero rows", idxHeaderBytes(idxImagesMagic, 1, 0, 5), lb, "im", "dimension 1 is zero", false},
		{"huge dims", idxHeaderBytes(idxImagesMagic, 1<<30, 1<<20, 1<<20), lb, "im", "implausibly large", false},
		{"missing file", nil, lb, "im", "no such file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			im := filepath.Join(dir, "im")
			if !tc.skipWriteI {
				writeFile(t, im, tc.images)
			}
			l := writeFile(t, filepath.Join(dir, "lb"), tc.labels)
			_, err := ReadIDX(im, l, IDXOptions{})
			errContains(t, err, filepath.Join(dir, tc.bad)+":", tc.want)
		})
	}
}

func TestObjectMask(t *testing.T) {
	img := []float32{
		0, 0, 0, 0,
		0, 0.6, 0.2, 0,
		0, 0.9, 0.7, 0,
	}
	m, b, ok := ObjectMask(img, 3, 4, DigitThreshold)
	if !ok || b != (Box{XMin: 1, YMin: 1, XMax: 3, YMax: 3}) {
		t.Fatalf("box %+v ok=%v", b, ok)
	}
	want := []bool{false, false, false, false, false, true, false, false, false, true, true, false}
	for i := range want {
		if m[i] != want[i] {
			t.Fatalf("mask %v, want %v", m, want)
		}
	}
	if _, _, ok := ObjectMask(make([]float32, 12), 3, 4, DigitThreshold); ok {
		t.Fatal("blank image has an object")
	}
}

package data_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/data/datatest"
	"github.com/arp-robustness/arp/limits"
)

// imageNetVal writes a flat ILSVRC2012 validation folder of n JPEG images
// with box XML files and no ground-truth file (the labels come from the
// XML files).
func imageNetVal(t *testing.T, n int) string {
	root := t.TempDir()
	images := filepath.Join(root, "images")
	ids := datatest.ImageNetClasses(3)
	for k := 1; k <= n; k++ {
		name := fmt.Sprintf("ILSVRC2012_val_%08d", k)
		b := datatest.JPEG(t, datatest.Picture(rand.New(rand.NewPCG(uint64(k), 1)), 80+k, 60+2*k, k%3, k))
		datatest.Write(t, filepath.Join(images, name+".JPEG"), b)
		xml := fmt.Sprintf(`<annotation><size><width>%d</width><height>%d</height></size><object><name>%s</name><bndbox><xmin>5</xmin><ymin>6</ymin><xmax>%d</xmax><ymax>40</ymax></bndbox></object></annotation>`,
			80+k, 60+2*k, ids[k%3], 50+k)
		datatest.Write(t, filepath.Join(root, "val", name+".xml"), []byte(xml))
	}
	return images
}

// TestSourceReadsWhatOpenDecodes: every range a Source reads equals the
// same images of the Dataset Open decodes, bit for bit (images, labels,
// masks, boxes, files), for every on-disk format, also through Subset
// and Head views.
func TestSourceReadsWhatOpenDecodes(t *testing.T) {
	classDir := t.TempDir()
	datatest.ClassFolder(t, classDir, datatest.ImageNetClasses(3), 4, 70, 50, false, 1)
	plain := t.TempDir()
	datatest.ClassFolder(t, plain, []string{"cat", "dog"}, 5, 20, 16, true, 2)
	for _, spec := range []string{"mnist-mini:test", "mnist-mini:all:heldout=50", classDir, plain, imageNetVal(t, 7)} {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			want, err := data.Open(spec, data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := data.OpenSource(spec, data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != want.Len() || s.Name != want.Name || !reflect.DeepEqual(s.Labels, want.Labels) || s.Truth != (want.Masks != nil) ||
				s.Preprocessing != want.Preprocessing || s.C != want.C || s.H != want.H || s.W != want.W {
				t.Fatalf("source %s %d images %dx%dx%d truth %v, dataset %s %d images %dx%dx%d", s.Name, s.Len(), s.C, s.H, s.W, s.Truth, want.Name, want.Len(), want.C, want.H, want.W)
			}
			n := want.Len()
			for _, r := range [][2]int{{0, n}, {0, 1}, {n - 1, n}, {n / 3, n/3 + 2}, {1, n - 1}} {
				got, err := s.Read(r[0], r[1])
				if err != nil {
					t.Fatal(err)
				}
				same(t, got, sub(want, r[0], r[1]), fmt.Sprintf("images %d-%d", r[0], r[1]-1))
			}
			idx := []int{n - 1, 0, n / 2}
			got, err := s.Subset(idx).Read(1, 3)
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, want.Subset(idx[1:]), "subset")
			if got, err := s.Head(2).Read(0, 2); err != nil {
				t.Fatal(err)
			} else {
				same(t, got, sub(want, 0, 2), "head")
			}
		})
	}
}

func sub(d *data.Dataset, lo, hi int) *data.Dataset {
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	return d.Subset(idx)
}

func same(t *testing.T, got, want *data.Dataset, what string) {
	t.Helper()
	for _, c := range []struct {
		name string
		a, b any
	}{{"images", got.Images, want.Images}, {"labels", got.Labels, want.Labels}, {"masks", got.Masks, want.Masks},
		{"boxes", got.Boxes, want.Boxes}, {"files", got.Sources, want.Sources}, {"classes", got.Classes, want.Classes}} {
		if !reflect.DeepEqual(c.a, c.b) {
			t.Errorf("%s: %s differ", what, c.name)
		}
	}
}

// TestSourceWithinMemory: an ImageNet-format dataset (class folders of
// JPEGs, decoded to 299x299) larger than a deliberately small memory limit
// cannot be decoded whole, but reads a batch at a time within the limit,
// giving the images of the whole.
func TestSourceWithinMemory(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // the decoding threads' scratch counts
	dir := t.TempDir()
	datatest.ClassFolder(t, dir, datatest.ImageNetClasses(2), 9, 120, 100, false, 4)
	s, err := data.OpenSource(dir, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 4
	limit := s.Need(batch) + 2<<20 // the garbage collector lags: 2 MB of slack
	if whole := s.Need(s.Len()); whole < 2*limit {
		t.Fatalf("the dataset (%d bytes) should need more than twice the limit (%d)", whole, limit)
	}
	restore := limits.SetAvailable(limit)
	if _, err := data.Open(dir, data.Options{}); err == nil || !strings.Contains(err.Error(), "of memory") {
		t.Fatalf("decoding all 18 images within %d bytes: %v", limit, err)
	}
	var heap uint64
	var got []*data.Dataset // kept as hashes, not images
	var sums [][32]byte
	for lo := 0; lo < s.Len(); lo += batch {
		hi := min(s.Len(), lo+batch)
		heap = max(heap, datatest.PeakHeap(func() { got = []*data.Dataset{nil}; got[0], err = s.Read(lo, hi) }))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, hash(got[0]))
	}
	restore()
	t.Logf("reading %d images at a time: heap grew by at most %d bytes; limit %d", batch, heap, limit)
	if heap > uint64(limit) {
		t.Errorf("reading a batch grew the heap by %d bytes, more than the limit %d", heap, limit)
	}
	// the planted defect: the whole-dataset path (its memory check passed
	// by measuring the machine, not the limit) must trip the same
	// measurement, or the check above could not fail
	var all []*data.Dataset
	whole := datatest.PeakHeap(func() { all = []*data.Dataset{nil}; all[0], err = s.ReadAll() })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("decoding all %d images: heap grew by %d bytes (peak)", s.Len(), whole)
	if whole <= uint64(limit) {
		t.Errorf("decoding the whole dataset grew the heap by only %d bytes, within the limit %d: the measurement cannot tell a batch from the dataset", whole, limit)
	}
	all = nil
	want, err := data.Open(dir, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for b, lo := 0, 0; lo < s.Len(); b, lo = b+1, lo+batch {
		if hash(sub(want, lo, min(s.Len(), lo+batch))) != sums[b] {
			t.Errorf("batch %d differs from the images Open decodes", b)
		}
	}
}

// hash sums a dataset's images, labels and files.
func hash(d *data.Dataset) [32]byte {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, d.Images)
	fmt.Fprint(h, d.Labels, d.Sources)
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// TestSourceCorruptImage: an image whose header decodes but whose pixels
// do not, in the middle of a range, is reported by the range's Read with
// its file named; ranges without it read.
func TestSourceCorruptImage(t *testing.T) {
	dir := t.TempDir()
	files := datatest.ClassFolder(t, dir, []string{"a", "b"}, 4, 24, 24, true, 5)
	datatest.Corrupt(t, files[5])
	s, err := data.OpenSource(dir, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(0, 5); err != nil {
		t.Fatalf("range before the corrupt image: %v", err)
	}
	for _, r := range [][2]int{{4, 8}, {5, 6}, {0, 8}} {
		_, err := s.Read(r[0], r[1])
		if err == nil || !strings.Contains(err.Error(), files[5]+": corrupt jpeg image") {
			t.Errorf("images %d-%d: error %v, want one naming %s", r[0], r[1]-1, err, files[5])
		}
	}
	if _, err := data.Open(dir, data.Options{}); err == nil || !strings.Contains(err.Error(), files[5]) {
		t.Errorf("Open: %v", err)
	}
	if _, err := s.Read(6, 9); err == nil || !strings.Contains(err.Error(), "outside its 8 images") {
		t.Errorf("a range past the end: %v", err)
	}
}

// Package datatest writes generated datasets in the on-disk formats arp
// reads (real JPEG encodings in class folders, the ILSVRC2012 layouts), for
// tests that need a dataset on disk larger than memory allows, a corrupt
// image among good ones, or a directory tree.
package datatest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// ImageNetClasses returns the WordNet IDs of k ILSVRC2012 classes (class
// folders named so make an ImageNet-format dataset: 1000 classes and the
// Inception preprocessing to 299x299).
func ImageNetClasses(k int) []string {
	ids := []string{"n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331", "n01498041", "n01514668"}
	return ids[:k]
}

// ClassFolder writes n JPEG images per class into root/CLASS/CLASS_J.JPEG:
// w x h pictures of a coloured rectangle whose place and colour depend on
// the class and the image, on a noisy background drawn with seed. Sizes
// vary by a few pixels from image to image unless fixed is set (class
// folders without ImageNet names take the first image's size). It returns
// the files in the order arp lists them (classes sorted, files sorted).
func ClassFolder(tb testing.TB, root string, classes []string, n, w, h int, fixed bool, seed uint64) []string {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var files []string
	for c, name := range classes {
		for j := 0; j < n; j++ {
			iw, ih := w, h
			if !fixed {
				iw, ih = w+r.IntN(9), h+r.IntN(9)
			}
			p := filepath.Join(root, name, fmt.Sprintf("%s_%04d.JPEG", name, j))
			Write(tb, p, JPEG(tb, Picture(r, iw, ih, c, j)))
			files = append(files, p)
		}
	}
	return files
}

// Picture draws a w x h RGB picture: noise, and a rectangle of a colour and
// place given by class c and image j.
func Picture(r *rand.Rand, w, h, c, j int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	x0, y0 := (c*7+j*3)%(w/2), (c*5+j*11)%(h/2)
	x1, y1 := x0+w/3, y0+h/3
	col := color.NRGBA{uint8(60 + 40*c), uint8(200 - 30*c), uint8(50 * j), 255}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x >= x0 && x < x1 && y >= y0 && y < y1 {
				img.Set(x, y, col)
				continue
			}
			img.Set(x, y, color.NRGBA{uint8(r.IntN(80)), uint8(r.IntN(80)), uint8(r.IntN(80)), 255})
		}
	}
	return img
}

// JPEG encodes img as a JPEG file (quality 90).
func JPEG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// Corrupt cuts the JPEG file path in the middle of its pixel data: its
// header still decodes (arp lists it), its pixels do not.
func Corrupt(tb testing.TB, path string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sos := bytes.Index(b, []byte{0xff, 0xda}) // start of scan: the pixels follow
	if sos < 0 {
		tb.Fatalf("%s: not a JPEG file", path)
	}
	Write(tb, path, b[:sos+(len(b)-sos)/2])
}

// Write writes b to path, making its directory.
func Write(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// PeakHeap runs f and returns by how many bytes the Go heap's live
// objects grew at most while it ran: the live heap the garbage collector
// found at each of its cycles (runtime/metrics /gc/heap/live:bytes),
// sampled every 2 milliseconds, with a cycle whenever the heap grew by 10%
// (GOGC 10). Garbage not yet collected does not count, so the result
// follows what f holds, not how busy the machine kept the collector.
func PeakHeap(f func()) uint64 {
	old := debug.SetGCPercent(10)
	defer debug.SetGCPercent(old)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := live()
	var mu sync.Mutex
	peak := base
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				v := live()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	f()
	runtime.GC() // the last cycle's live heap: what f kept
	close(stop)
	<-done
	peak = max(peak, live())
	if peak < base {
		return 0
	}
	return peak - base
}

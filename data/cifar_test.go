package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCIFAR10(t *testing.T, dir string, perBatch int) {
	t.Helper()
	lab := func(i, k int) byte { return byte(i % 10) }
	for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_10.bin", "test_batch.bin"} {
		writeFile(t, filepath.Join(dir, f), cifarRecords(perBatch, 1, lab))
	}
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte(strings.Join(CIFAR10Classes(), "\n")+"\n\n"))
}

func writeCIFAR100(t *testing.T, dir string, n int) {
	t.Helper()
	lab := func(i, k int) byte {
		if k == 0 {
			return byte(i % 20)
		}
		return byte((i * 7) % 100)
	}
	writeFile(t, filepath.Join(dir, "train.bin"), cifarRecords(n, 2, lab))
	writeFile(t, filepath.Join(dir, "test.bin"), cifarRecords(n/2, 2, lab))
	fine := make([]string, 100)
	for i := range fine {
		fine[i] = "fine" + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	writeFile(t, filepath.Join(dir, "fine_label_names.txt"), []byte(strings.Join(fine, "\n")))
}

func TestReadCIFAR(t *testing.T) {
	dir10, dir100 := t.TempDir(), t.TempDir()
	writeCIFAR10(t, dir10, 5)
	writeCIFAR100(t, dir100, 6)
	for _, tc := range []struct {
		name     string
		dir      string
		opt      CIFAROptions
		n        int
		classes  int
		label3   int
		class0   string
		firstPix float32
	}{
		{"cifar10 train", dir10, CIFAROptions{}, 15, 10, 3, "airplane", 0},
		{"cifar10 test", dir10, CIFAROptions{Split: "test"}, 5, 10, 3, "airplane", 0},
		{"cifar10 all", dir10, CIFAROptions{Split: "all"}, 20, 10, 3, "airplane", 0},
		{"cifar100 fine", dir100, CIFAROptions{}, 6, 100, 21, "fineAa", 0},
		{"cifar100 coarse", dir100, CIFAROptions{Coarse: true}, 6, 20, 3, "0", 0},
		{"cifar100 test", dir100, CIFAROptions{Split: "test"}, 3, 100, 0, "fineAa", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ReadCIFAR(tc.dir, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if d.Len() != tc.n || len(d.Classes) != tc.classes || d.Classes[0] != tc.class0 {
				t.Fatalf("got %d images, %d classes (%q), want %d, %d (%q)", d.Len(), len(d.Classes), d.Classes[0], tc.n, tc.classes, tc.class0)
			}
			if d.C != 3 || d.H != 32 || d.W != 32 || d.Masks != nil {
				t.Fatalf("shape %dx%dx%d masks %v", d.C, d.H, d.W, d.Masks != nil)
			}
			if tc.n > 3 && d.Labels[3] != tc.label3 {
				t.Fatalf("label 3 = %d, want %d", d.Labels[3], tc.label3)
			}
			// Pixel bytes: record i, value j -> i + 50*plane; plane order R, G, B = CHW.
			img := d.Image(2)
			if img[0] != 2.0/255 || img[1024] != 52.0/255 || img[2048] != 102.0/255 {
				t.Fatalf("pixels of image 2: %v %v %v", img[0], img[1024], img[2048])
			}
		})
	}
}

func TestCIFARBatchOrder(t *testing.T) {
	dir := t.TempDir()
	for i, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_10.bin"} {
		writeFile(t, filepath.Join(dir, f), cifarRecords(1, 1, func(int, int) byte { return byte(i) }))
	}
	d, err := ReadCIFAR(dir, CIFAROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Labels[0] != 0 || d.Labels[1] != 1 || d.Labels[2] != 2 {
		t.Fatalf("batches read out of numeric order: labels %v", d.Labels)
	}
}

func TestReadCIFARBad(t *testing.T) {
	good := cifarRecords(3, 1, func(i, k int) byte { return byte(i) })
	bad := append([]byte(nil), good...)
	bad[2*3073] = 12
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{"size not multiple of record", map[string][]byte{"data_batch_1.bin": good[:len(good)-10]}, []string{"data_batch_1.bin: record 2: file size 9209 is not a multiple of the 3073-byte record size"}},
		{"label out of range", map[string][]byte{"data_batch_1.bin": bad}, []string{"data_batch_1.bin: record 2: label 12 out of range [0,10)"}},
		{"empty batch", map[string][]byte{"test_batch.bin": nil, "data_batch_1.bin": nil}, []string{"data_batch_1.bin: empty file"}},
		{"cifar100 fine out of range", map[string][]byte{"train.bin": cifarRecords(2, 2, func(i, k int) byte { return byte(100 * k * i) })}, []string{"train.bin: record 1: fine label 100 out of range [0,100)"}},
		{"cifar100 coarse out of range", map[string][]byte{"train.bin": cifarRecords(2, 2, func(i, k int) byte { return byte(20 * (1 - k)) })}, []string{"train.bin: record 0: coarse label 20 out of range [0,20)"}},
		{"cifar100 given cifar10 size", map[string][]byte{"train.bin": good}, []string{"train.bin: record 2: file size 9219 is not a multiple of the 3074-byte record size"}},
		{"meta with wrong count", map[string][]byte{"data_batch_1.bin": good, "batches.meta.txt": []byte("a\nb\n")}, []string{"batches.meta.txt: has 2 class names, want 10"}},
		{"no batch files", map[string][]byte{"readme.txt": []byte("hi")}, []string{"no CIFAR batch files"}},
		{"no train split", map[string][]byte{"test_batch.bin": good}, []string{"no cifar-10 train batch files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, b := range tc.files {
				writeFile(t, filepath.Join(dir, f), b)
			}
			_, err := ReadCIFAR(dir, CIFAROptions{})
			errContains(t, err, tc.want...)
		})
	}
	_, err := ReadCIFAR(filepath.Join(t.TempDir(), "missing"), CIFAROptions{})
	errContains(t, err, "missing: no such file or directory")
	f := writeFile(t, filepath.Join(t.TempDir(), "file"), nil)
	_, err = ReadCIFAR(f, CIFAROptions{})
	errContains(t, err, "not a directory")
	if _, err := os.Stat(f); err != nil {
		t.Fatal(err)
	}
}

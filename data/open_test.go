package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMNISTMini(t *testing.T) {
	for _, tc := range []struct {
		split string
		n     int
	}{{"train", MiniTrain}, {"test", MiniSize - MiniTrain}, {"all", MiniSize}} {
		d, err := Open("mnist-mini:"+tc.split, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != tc.n || d.C != 1 || d.H != 28 || d.W != 28 || d.Name != "mnist-mini:"+tc.split {
			t.Fatalf("%s: %d images %dx%dx%d name %q", tc.split, d.Len(), d.C, d.H, d.W, d.Name)
		}
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		for i := range d.Len() {
			if len(d.Boxes[i]) != 1 {
				t.Fatalf("%s image %d has no object box", tc.split, i)
			}
		}
	}
	// The first MNIST test digit is a 7, the second a 2.
	d, _ := MNISTMini("train")
	if d.Labels[0] != 7 || d.Labels[1] != 2 {
		t.Fatalf("first labels %v", d.Labels[:2])
	}
	if _, err := MNISTMini("validation"); err == nil {
		t.Fatal("unknown split accepted")
	}
}

// TestMNISTMiniMatchesSource checks the embedded files against the original
// MNIST test files in the GoMNIST module (installed by go mod download).
func TestMNISTMiniMatchesSource(t *testing.T) {
	src, err := MNISTSourceDir()
	if err != nil {
		t.Skip("GoMNIST module not available:", err)
	}
	full, err := ReadIDX(filepath.Join(src, "t10k-images-idx3-ubyte.gz"), filepath.Join(src, "t10k-labels-idx1-ubyte.gz"), IDXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if full.Len() != 10000 {
		t.Fatalf("MNIST test set has %d images", full.Len())
	}
	mini, err := MNISTMini("all")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range mini.Images {
		if full.Images[i] != v {
			t.Fatalf("value %d differs from the MNIST test set", i)
		}
	}
	for i, l := range mini.Labels {
		if full.Labels[i] != l {
			t.Fatalf("label %d differs from the MNIST test set", i)
		}
	}
}

func TestOpen(t *testing.T) {
	dataDir := t.TempDir()
	writeIDXDir(t, filepath.Join(dataDir, "mnist"), 20, 10)
	fashion := filepath.Join(dataDir, "fashion-mnist")
	writeIDXDir(t, fashion, 30, 5)
	writeFile(t, filepath.Join(fashion, "classes.txt"), []byte(strings.Join(FashionClasses(), "\n")))
	cifar := filepath.Join(dataDir, "cifar-10-batches-bin")
	writeCIFAR10(t, cifar, 2)
	c100 := filepath.Join(t.TempDir(), "c100")
	writeCIFAR100(t, c100, 4)
	folder := t.TempDir()
	writeFolder(t, folder, "")
	opt := Options{DataDir: dataDir}
	for _, tc := range []struct {
		spec    string
		opt     Options
		n       int
		name    string
		class0  string
		nMasked int
	}{
		{"mnist", opt, 20, "mnist:train", "0", 20},
		{"mnist:test", opt, 10, "mnist:test", "0", 10},
		{"mnist:all", opt, 30, "mnist:all", "0", 30},
		{"mnist", Options{DataDir: dataDir, Split: "test"}, 10, "mnist:test", "0", 10},
		{"fashion-mnist:test", opt, 5, "fashion-mnist:test", "T-shirt/top", 5},
		{"cifar-10", opt, 6, "cifar-10:train", "airplane", 0},
		{"cifar-10:test", opt, 2, "cifar-10:test", "airplane", 0},
		{filepath.Join(dataDir, "mnist"), opt, 20, filepath.Join(dataDir, "mnist") + ":train", "0", 20},
		{filepath.Join(dataDir, "mnist", "t10k-labels-idx1-ubyte.gz"), opt, 10, filepath.Join(dataDir, "mnist", "t10k-labels-idx1-ubyte.gz"), "0", 10},
		{filepath.Join(cifar, "test_batch.bin"), opt, 2, filepath.Join(cifar, "test_batch.bin"), "airplane", 0},
		{c100 + ":all", Options{Coarse: true}, 6, c100 + ":all", "0", 0},
		{filepath.Join(c100, "test.bin"), opt, 2, filepath.Join(c100, "test.bin"), "fineAa", 0},
		{folder, Options{Folder: FolderOptions{Height: 8, Width: 8}}, 3, folder, "cat", 1},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			d, err := Open(tc.spec, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			masked := 0
			for _, m := range d.Masks {
				if m != nil {
					masked++
				}
			}
			if d.Len() != tc.n || d.Name != tc.name || d.Classes[0] != tc.class0 || masked != tc.nMasked {
				t.Fatalf("got %d images, name %q, class 0 %q, %d masks; want %d, %q, %q, %d", d.Len(), d.Name, d.Classes[0], masked, tc.n, tc.name, tc.class0, tc.nMasked)
			}
		})
	}
	// Fashion images use FashionThreshold: the faint pixel (100/255) is object.
	f, _ := Open("fashion-mnist", opt)
	m, _ := Open("mnist", opt)
	if !f.Masks[0][5*5] || m.Masks[0][5*5] {
		t.Fatal("fashion/digit thresholds not applied")
	}
	sp, err := Splits("mnist", opt)
	if err != nil || len(sp) != 2 {
		t.Fatalf("Splits(mnist) = %v, %v", sp, err)
	}
	if sp, err := Splits(folder, opt); err != nil || sp != nil {
		t.Fatalf("Splits(folder) = %v, %v", sp, err)
	}
}

func TestOpenBad(t *testing.T) {
	dataDir := t.TempDir()
	empty := t.TempDir()
	lonely := writeFile(t, filepath.Join(t.TempDir(), "x-images-idx3-ubyte"), []byte{0, 0, 8, 3})
	txt := writeFile(t, filepath.Join(t.TempDir(), "x.txt"), nil)
	for _, tc := range []struct {
		spec string
		opt  Options
		want string
	}{
		{"mnist", Options{DataDir: dataDir}, "run `arp data fetch mnist` first"},
		{"fashion-mnist:test", Options{DataDir: dataDir}, "run `arp data fetch fashion-mnist` first"},
		{"cifar-10", Options{DataDir: dataDir}, "cifar-10-batches-bin"},
		{"mnsit", Options{}, "no such dataset or file (known names:"},
		{"./missing/dir", Options{}, "./missing/dir: no such file or directory"},
		{"mnist-mini:dev", Options{}, "no such dataset"},
		{"mnist-mini", Options{Split: "dev"}, `unknown split "dev"`},
		{"mnist-mini:train", Options{Split: "test"}, "conflicts"},
		{empty, Options{}, "no class sub-folders"},
		{empty + ":train", Options{}, "has no \"train\" split"},
		{lonely, Options{}, "cannot find the matching IDX"},
		{txt, Options{}, "unknown dataset file"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Open(tc.spec, tc.opt)
			errContains(t, err, tc.want)
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeIDXDir(t, dir, 20, 10)
	// Corrupt two training labels and truncate the test images.
	pix, labels := synthDigits(20, 6, 5)
	_, lb := idxBytes(t, 20, 6, 5, pix, labels)
	lb[8+3], lb[8+11] = 10, 200
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte.gz"), lb)
	ti, _ := readFile(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	writeFile(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), ti[:len(ti)-31])

	r, err := Check(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		filepath.Join(dir, "train-labels-idx1-ubyte.gz") + ": record 3: label 10 out of range [0,10)",
		filepath.Join(dir, "train-labels-idx1-ubyte.gz") + ": record 11: label 200 out of range [0,10)",
		filepath.Join(dir, "t10k-images-idx3-ubyte.gz") + ": record 8: file truncated",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}

	r, err = Check("mnist-mini", Options{})
	if err != nil || len(r.Problems) != 0 || r.Images != MiniSize || r.Name != "mnist-mini:all" {
		t.Fatalf("Check(mnist-mini) = %+v, %v", r, err)
	}

	// A folder: every bad file is reported, not just the first.
	root := t.TempDir()
	writeFolder(t, root, "")
	writeFile(t, filepath.Join(root, "cat", "bad.png"), []byte("not a png"))
	writeFile(t, filepath.Join(root, "dog", "c.xml"), []byte("<annotation>"))
	r, err = Check(root, Options{})
	if err != nil || len(r.Problems) != 2 {
		t.Fatalf("folder problems %v, %v", r.Problems, err)
	}

	// CIFAR: size and labels.
	cdir := t.TempDir()
	recs := cifarRecords(4, 1, func(i, k int) byte { return byte(i * 5) })
	writeFile(t, filepath.Join(cdir, "data_batch_1.bin"), recs[:len(recs)-1])
	r, _ = Check(cdir, Options{})
	if len(r.Problems) != 2 || r.Problems[0].Record != 3 || r.Problems[1].Record != 2 {
		t.Fatalf("cifar problems %v", r.Problems)
	}

	r, err = Check(filepath.Join(dir, "missing"), Options{})
	if err != nil || len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Msg, "no such file") {
		t.Fatalf("missing: %+v %v", r, err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

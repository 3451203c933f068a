package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	t.Setenv(DirEnv, "/some/where")
	if d, err := Dir(); err != nil || d != "/some/where" {
		t.Fatalf("Dir() = %q, %v", d, err)
	}
	t.Setenv(DirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	if d, err := Dir(); err != nil || d != filepath.Join("/cache", "arp") {
		t.Fatalf("Dir() = %q, %v", d, err)
	}
}

func TestFetchFromSource(t *testing.T) {
	src := t.TempDir()
	writeIDXDir(t, src, 20, 10)
	dataDir := t.TempDir()
	for _, name := range FetchNames() {
		dst, err := Fetch(name, dataDir, FetchOptions{Source: src})
		if err != nil {
			t.Fatal(err)
		}
		if dst != filepath.Join(dataDir, name) {
			t.Fatalf("dst %q", dst)
		}
		d, err := Open(name+":test", Options{DataDir: dataDir})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != 10 {
			t.Fatalf("%s: %d test images", name, d.Len())
		}
		wantClass := map[string]string{"mnist": "0", "fashion-mnist": "T-shirt/top"}[name]
		if d.Classes[0] != wantClass {
			t.Fatalf("%s: class 0 = %q", name, d.Classes[0])
		}
		ents, _ := os.ReadDir(dst)
		if len(ents) != 5 {
			t.Fatalf("%s: %d files in %s, want 4 IDX files + classes.txt", name, len(ents), dst)
		}
	}
}

func TestFetchBad(t *testing.T) {
	src := t.TempDir()
	writeIDXDir(t, src, 20, 10)
	// Corrupt one file: the fetch must fail and leave nothing behind.
	writeFile(t, filepath.Join(src, "t10k-labels-idx1-ubyte.gz"), []byte("garbage"))
	dataDir := t.TempDir()
	_, err := Fetch("mnist", dataDir, FetchOptions{Source: src})
	errContains(t, err, "verifying t10k files", "wrong magic number")
	ents, _ := os.ReadDir(filepath.Join(dataDir, "mnist"))
	if len(ents) != 0 {
		t.Fatalf("failed fetch left %d files", len(ents))
	}
	_, err = Fetch("imagenet", dataDir, FetchOptions{})
	errContains(t, err, `cannot fetch "imagenet"`)
	_, err = Fetch("mnist", dataDir, FetchOptions{Source: t.TempDir()})
	errContains(t, err, "missing one of")
}

// TestFetchMNIST copies the real MNIST files from the Go module cache.
func TestFetchMNIST(t *testing.T) {
	if _, err := MNISTSourceDir(); err != nil {
		t.Skip("GoMNIST module not available:", err)
	}
	dataDir := t.TempDir()
	if _, err := Fetch("mnist", dataDir, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	for split, n := range map[string]int{"train": 60000, "test": 10000} {
		d, err := Open("mnist:"+split, Options{DataDir: dataDir})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != n {
			t.Fatalf("%s: %d images, want %d", split, d.Len(), n)
		}
	}
}

// TestFetchFashion copies Fashion-MNIST from the Debian package, if installed.
func TestFetchFashion(t *testing.T) {
	if !hasIDXFiles(FashionSourceDir) {
		_, err := Fetch("fashion-mnist", t.TempDir(), FetchOptions{})
		errContains(t, err, "apt-get install dataset-fashion-mnist")
		return
	}
	dataDir := t.TempDir()
	if _, err := Fetch("fashion-mnist", dataDir, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := Open("fashion-mnist:test", Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 10000 || !strings.Contains(strings.Join(d.Classes, ","), "Ankle boot") {
		t.Fatalf("%d images, classes %v", d.Len(), d.Classes)
	}
	for i, c := range d.ClassCounts() {
		if c != 1000 {
			t.Fatalf("class %d has %d test images, want 1000", i, c)
		}
	}
}

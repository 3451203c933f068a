package arpbeam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/data"

	// Beam filesystems a path may name: local files, Google Cloud Storage,
	// Amazon S3, and memfs (in memory, for tests).
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
)

// remote reports whether p names a Beam filesystem other than local files
// ("gs://bucket/x", "s3://bucket/x", "memfs://x").
func remote(p string) bool {
	i := strings.Index(p, "://")
	return i > 0 && !strings.ContainsAny(p[:i], `/\.`)
}

// joinPath joins an output directory and a file name, for local and
// remote paths.
func joinPath(dir, name string) string {
	if remote(dir) {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, name)
}

// cache is where a worker process keeps its local copies of remote
// inputs: a directory of its own (made on first use), so that a file
// changed between runs is never served from an older copy.
var cache struct {
	once sync.Once
	dir  string
	err  error
}

func cacheDir() (string, error) {
	cache.once.Do(func() { cache.dir, cache.err = os.MkdirTemp("", "arp-beam-cache-") })
	return cache.dir, cache.err
}

// RemoveCache deletes this process's copies of remote inputs (arp-beam
// calls it when its pipeline has ended; worker containers are discarded
// with theirs).
func RemoveCache() error {
	if cache.dir == "" {
		return nil
	}
	return os.RemoveAll(cache.dir)
}

var localized sync.Map // remote path -> *localCopy

type localCopy struct {
	once sync.Once
	path string
	err  error
}

// localize returns a local path holding what p names: p itself when it is
// local; otherwise a copy in the process's cache directory, made once: a
// file (with its ONNX metadata file p+".json" when there is
// one), or a directory tree (a run directory, an IDX or CIFAR directory,
// an image folder with one sub-folder per class, the ImageNet layouts with
// their annotation folders; at most MaxTreeDepth levels deep).
func localize(ctx context.Context, p string) (string, error) {
	if p == "" || !remote(p) {
		return p, nil
	}
	v, _ := localized.LoadOrStore(p, &localCopy{})
	c := v.(*localCopy)
	c.once.Do(func() { c.path, c.err = copyToCache(ctx, p) })
	return c.path, c.err
}

// asGiven rewrites the local copies' paths in err's message back to the
// paths the user gave (remote[i] was copied to local[i]), so that an error
// about a file inside a copied run directory names gs://.../model.json,
// not a worker's cache; other errors are returned as they are.
func asGiven(err error, remote, local []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for i := range remote {
		if remote[i] != local[i] && local[i] != "" {
			msg = strings.ReplaceAll(msg, local[i], strings.TrimSuffix(remote[i], "/"))
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// localizeData is localize for a dataset argument, which may end in a
// split (":train", ":test", ":all"): the directory is copied and the split
// kept, so "gs://bucket/mnist:test" becomes "<cache>/mnist:test".
func localizeData(ctx context.Context, p string) (string, error) {
	base, split := data.SplitSpec(p)
	if split == "" || !remote(base) {
		return localize(ctx, p)
	}
	l, err := localize(ctx, base)
	if err != nil {
		return "", err
	}
	return l + ":" + split, nil
}

// localizeInputs returns local paths for a job's model and data (see
// localize and localizeData).
func localizeInputs(ctx context.Context, model, data string) (string, string, error) {
	m, err := localize(ctx, model)
	if err != nil {
		return "", "", err
	}
	d, err := localizeData(ctx, data)
	if err != nil {
		return "", "", err
	}
	return m, d, nil
}

func copyToCache(ctx context.Context, p string) (string, error) {
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return "", fmt.Errorf("%s: %v", p, err)
	}
	defer fs.Close()
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(p))
	key := hex.EncodeToString(sum[:8])
	base := path.Base(strings.TrimSuffix(p, "/"))
	final := filepath.Join(dir, key)
	tmp, err := os.MkdirTemp(dir, key+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if _, err := fs.Size(ctx, p); err == nil {
		// a file, and an ONNX model's metadata file next to it
		if err := copyFile(ctx, fs, p, filepath.Join(tmp, base)); err != nil {
			return "", err
		}
		if _, err := fs.Size(ctx, p+".json"); err == nil {
			if err := copyFile(ctx, fs, p+".json", filepath.Join(tmp, base+".json")); err != nil {
				return "", err
			}
		}
	} else {
		files, err := listTree(ctx, fs, strings.TrimSuffix(p, "/"))
		if err != nil {
			return "", fmt.Errorf("%s: %v", p, err)
		}
		if len(files) == 0 {
			return "", fmt.Errorf("%s: no such file or directory", p)
		}
		for _, f := range files {
			to := filepath.Join(tmp, base, filepath.FromSlash(f.rel))
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return "", err
			}
			if err := copyFile(ctx, fs, f.path, to); err != nil {
				return "", err
			}
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return filepath.Join(final, base), nil
}

// MaxTreeDepth is how deep below a directory on a remote filesystem the
// files copied to workers may lie: class folders (ImageNet's train and val
// in one folder per class) are one level down, the devkit's
// Annotations/CLS-LOC/val three.
const MaxTreeDepth = 6

// treeFile is a file of a directory tree: its path and its path relative to
// the tree's root (with slashes).
type treeFile struct{ path, rel string }

// listTree lists the files of the directory tree root on a Beam
// filesystem, down to MaxTreeDepth levels: object stores have no
// directories, only names with slashes, and their globs do not cross a
// slash (gs://, s3://, memfs://), so every level is listed with a glob of
// its own.
func listTree(ctx context.Context, fs filesystem.Interface, root string) ([]treeFile, error) {
	var out []treeFile
	seen := map[string]bool{}
	glob := root
	for depth := 1; depth <= MaxTreeDepth; depth++ {
		glob += "/*"
		files, err := fs.List(ctx, glob)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			rel := strings.TrimPrefix(strings.TrimPrefix(f, root), "/")
			if seen[rel] || rel == "" || strings.HasSuffix(rel, "/") || strings.Count(rel, "/") != depth-1 {
				continue
			}
			seen[rel] = true
			out = append(out, treeFile{path: f, rel: rel})
		}
	}
	// a name that is also a folder of others is a directory marker some
	// tools leave in object stores, not a file
	dirs := map[string]bool{}
	for _, f := range out {
		for d := path.Dir(f.rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var files []treeFile
	for _, f := range out {
		if !dirs[f.rel] {
			files = append(files, f)
		}
	}
	return files, nil
}

func copyFile(ctx context.Context, fs filesystem.Interface, from, to string) error {
	r, err := fs.OpenRead(ctx, from)
	if err != nil {
		return fmt.Errorf("%s: %v", from, err)
	}
	defer r.Close()
	w, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("%s: %v", from, err)
	}
	return w.Close()
}

// writeFile writes data to p: atomically (a temporary file renamed) for a
// local path, as one upload (committed when closed) for object stores.
func writeFile(ctx context.Context, p string, data []byte) error {
	if !remote(p) {
		if dir := filepath.Dir(p); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		return checkpoint.AtomicWriteFile(p, data, 0o644)
	}
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, p)
	if err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("%s: %v", p, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	return nil
}

// readFile reads p from any Beam filesystem.
func readFile(ctx context.Context, p string) ([]byte, error) {
	if !remote(p) {
		return os.ReadFile(p)
	}
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	defer fs.Close()
	return filesystem.Read(ctx, fs, p)
}

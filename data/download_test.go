package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileServer serves generated files in the published formats, with
// per-test misbehaviour. Every request is recorded.
type fileServer struct {
	*httptest.Server
	files map[string][]byte
	mu    sync.Mutex
	log   []string // "GET /name range"
	// misbehave, if set, may answer a request itself (returning true).
	misbehave func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newFileServer(t *testing.T, files map[string][]byte) *fileServer {
	s := &fileServer{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, strings.TrimSpace(r.URL.Path+" "+r.Header.Get("Range")))
		n := len(s.log)
		s.mu.Unlock()
		if s.misbehave != nil && s.misbehave(w, r, n) {
			return
		}
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		b, ok := s.files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// idxFiles generates the four .gz files of an MNIST-style dataset and
// their digests.
func genIDXFiles(t *testing.T) (map[string][]byte, map[string]string) {
	dir := t.TempDir()
	writeIDXDir(t, dir, 30, 12)
	files, sums := map[string][]byte{}, map[string]string{}
	for _, f := range idxFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f], sums[f] = b, sha(b)
	}
	return files, sums
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tarGz packs name -> content under folder/ (with a directory entry first,
// as the published archives have).
func tarGz(t *testing.T, folder string, files map[string][]byte, order []string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: folder + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for _, n := range order {
		b := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: folder + "/" + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// genCIFARArchives builds small archives laid out like
// cifar-10-binary.tar.gz and cifar-100-binary.tar.gz.
func genCIFARArchives(t *testing.T) map[string][]byte {
	d10, d100 := t.TempDir(), t.TempDir()
	writeCIFAR10(t, d10, 7)
	writeCIFAR100(t, d100, 10)
	writeFile(t, filepath.Join(d100, "coarse_label_names.txt"), []byte(strings.Repeat("c\n", 20)))
	read := func(dir string, names ...string) map[string][]byte {
		m := map[string][]byte{}
		for _, n := range names {
			src := n
			if strings.HasPrefix(n, "data_batch_") && n != "data_batch_1.bin" && n != "data_batch_2.bin" {
				src = "data_batch_1.bin"
			}
			b, err := os.ReadFile(filepath.Join(dir, src))
			if err != nil {
				t.Fatal(err)
			}
			m[n] = b
		}
		return m
	}
	n10 := []string{"batches.meta.txt", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
	f10 := read(d10, n10...)
	f10["readme.html"] = []byte("<html></html>")
	n100 := []string{"coarse_label_names.txt", "fine_label_names.txt", "test.bin", "train.bin"}
	return map[string][]byte{
		"cifar-10-binary.tar.gz":  tarGz(t, "cifar-10-batches-bin", f10, append(n10, "readme.html")),
		"cifar-100-binary.tar.gz": tarGz(t, "cifar-100-binary", read(d100, n100...), n100),
	}
}

// quick are FetchOptions for tests: no local copies, millisecond backoff.
func quick(mirrors []string, sums map[string]string) FetchOptions {
	return FetchOptions{Mirrors: mirrors, SHA256: sums, NoLocal: true, Backoff: time.Millisecond, Retries: 3}
}

// onlyDataset asserts that dataDir holds exactly the dataset folder (the
// staging folder is removed on success).
func onlyDataset(t *testing.T, dataDir, want string) {
	t.Helper()
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != want {
		t.Fatalf("data directory holds %v, want %s", names, want)
	}
}

func TestFetchHTTP(t *testing.T) {
	idx, idxSums := genIDXFiles(t)
	arch := genCIFARArchives(t)
	all := map[string][]byte{}
	sums := map[string]string{}
	for k, v := range idx {
		all[k], sums[k] = v, idxSums[k]
	}
	for k, v := range arch {
		all[k], sums[k] = v, sha(v)
	}
	srv := newFileServer(t, all)
	for _, tc := range []struct {
		name, dir string
		test      int
		class0    string
	}{
		{"mnist", "mnist", 12, "0"},
		{"fashion-mnist", "fashion-mnist", 12, "T-shirt/top"},
		{"cifar-10", "cifar-10-batches-bin", 7, "airplane"},
		{"cifar-100", "cifar-100-binary", 5, "fineAa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			var calls int
			opt := quick([]string{srv.URL + "/pub/"}, sums)
			opt.Progress = func(file string, done, total, resumed int64) {
				calls++
				if total != int64(len(all[file])) || done > total {
					t.Errorf("progress %s: %d of %d", file, done, total)
				}
			}
			dst, err := Fetch(context.Background(), tc.name, dataDir, opt)
			if err != nil {
				t.Fatal(err)
			}
			if dst != filepath.Join(dataDir, tc.dir) || calls == 0 {
				t.Fatalf("dst %s, %d progress calls", dst, calls)
			}
			onlyDataset(t, dataDir, tc.dir)
			d, err := Open(tc.name+":test", Options{DataDir: dataDir})
			if err != nil {
				t.Fatal(err)
			}
			if d.Len() != tc.test || d.Classes[0] != tc.class0 {
				t.Fatalf("%d test images, class 0 %q", d.Len(), d.Classes[0])
			}
			// A second fetch replaces the folder whole.
			if _, err := Fetch(context.Background(), tc.name, dataDir, opt); err != nil {
				t.Fatal(err)
			}
			onlyDataset(t, dataDir, tc.dir)
		})
	}
	// The committed digests are the defaults: generated files fail them.
	_, err := Fetch(context.Background(), "mnist", t.TempDir(), quick([]string{srv.URL + "/pub/"}, nil))
	errContains(t, err, "bytes, the published file has 9912422")
	_, err = Fetch(context.Background(), "fashion-mnist", t.TempDir(), quick([]string{srv.URL + "/pub/"}, nil))
	errContains(t, err, "is not the published digest 3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84 or b0564c3e")
}

// TestFetchMirrors: a 404, a redirect loop and a wrong file on the first
// mirrors, the right file on the last; every bad mirror is named.
func TestFetchMirrors(t *testing.T) {
	idx, sums := genIDXFiles(t)
	good := newFileServer(t, idx)
	bad := map[string][]byte{}
	for k, v := range idx {
		bad[k] = append(append([]byte(nil), v...), 0) // one byte more
	}
	wrong := newFileServer(t, bad)
	loop := newFileServer(t, nil)
	loop.misbehave = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
		return true
	}
	none := newFileServer(t, nil)
	var logs []string
	opt := quick([]string{none.URL + "/missing/", loop.URL + "/", wrong.URL + "/", good.URL + "/"}, sums)
	opt.Log = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	dataDir := t.TempDir()
	if _, err := Fetch(context.Background(), "mnist", dataDir, opt); err != nil {
		t.Fatal(err)
	}
	onlyDataset(t, dataDir, "mnist")
	text := strings.Join(logs, "\n")
	for _, w := range []string{"404 Not Found", "too many redirects", "is not the published digest"} {
		if !strings.Contains(text, w) {
			t.Errorf("log lacks %q:\n%s", w, text)
		}
	}
	// Permanent failures are not retried: one request per file and mirror
	// (the client gives up on a redirect loop after 10 requests).
	if n := len(wrong.requests()); n != 4 {
		t.Errorf("wrong mirror got %d requests, want 4", n)
	}
	if n := len(loop.requests()); n != 4*10 {
		t.Errorf("redirect loop got %d requests, want 40", n)
	}

	// Every mirror bad: an error naming each, and no dataset.
	opt.Mirrors = opt.Mirrors[:3]
	dataDir = t.TempDir()
	_, err := Fetch(context.Background(), "mnist", dataDir, opt)
	errContains(t, err, "train-images-idx3-ubyte.gz: no mirror served it", "404 Not Found", "too many redirects", "is not the published digest")
	onlyDataset(t, dataDir, "") // no partial download to keep: nothing left
}

// TestFetchResume: a body cut short and a connection dropped mid-file are
// retried with a Range request for the rest; what arrived is kept.
func TestFetchResume(t *testing.T) {
	arch := genCIFARArchives(t)
	name := "cifar-10-binary.tar.gz"
	body := arch[name]
	half := len(body) / 2
	for _, mode := range []string{"truncated", "dropped"} {
		t.Run(mode, func(t *testing.T) {
			srv := newFileServer(t, arch)
			srv.misbehave = func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n > 1 {
					return false
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(http.StatusOK)
				w.Write(body[:half])
				if mode == "dropped" {
					w.(http.Flusher).Flush()
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
				}
				return true // the handler returns early: the body is cut short
			}
			var logs []string
			opt := quick([]string{srv.URL + "/"}, map[string]string{name: sha(body)})
			opt.Log = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
			var resumed int64 = -1
			opt.Progress = func(_ string, done, total, r int64) { resumed = r }
			dataDir := t.TempDir()
			if _, err := Fetch(context.Background(), "cifar-10", dataDir, opt); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			want := fmt.Sprintf("/%s bytes=%d-", name, half)
			if len(reqs) != 2 || reqs[1] != want || resumed != int64(half) {
				t.Fatalf("requests %q (want the second to be %q), resumed at %d; log %q", reqs, want, resumed, logs)
			}
			onlyDataset(t, dataDir, "cifar-10-batches-bin")
		})
	}
}

// TestFetchInterrupted: a fetch cancelled mid-file leaves only the partial
// download in the staging folder; the next fetch asks for the rest.
func TestFetchInterrupted(t *testing.T) {
	arch := genCIFARArchives(t)
	name := "cifar-100-binary.tar.gz"
	body := arch[name]
	srv := newFileServer(t, arch)
	ctx, cancel := context.WithCancel(context.Background())
	srv.misbehave = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	}
	dataDir := t.TempDir()
	opt := quick([]string{srv.URL + "/"}, map[string]string{name: sha(body)})
	opt.Progress = func(_ string, done, _, _ int64) {
		if done > 0 {
			cancel() // interrupt after the first bytes are on disk
		}
	}
	_, err := Fetch(ctx, "cifar-100", dataDir, opt)
	opt.Progress = nil
	errContains(t, err, "context canceled")
	onlyDataset(t, dataDir, StagingDir)
	part, err := os.ReadFile(filepath.Join(dataDir, StagingDir, name+".part"))
	if err != nil || !bytes.Equal(part, body[:len(part)]) || len(part) == 0 {
		t.Fatalf("partial file: %d bytes, %v", len(part), err)
	}
	if _, err := Fetch(context.Background(), "cifar-100", dataDir, opt); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if last := reqs[len(reqs)-1]; last != fmt.Sprintf("/%s bytes=%d-", name, len(part)) {
		t.Fatalf("requests %q", reqs)
	}
	onlyDataset(t, dataDir, "cifar-100-binary")
}

// TestFetchFrom: --from DIR verifies the files in place; --from URL is
// the only mirror; local copies that fail their digest are skipped.
func TestFetchFrom(t *testing.T) {
	idx, sums := genIDXFiles(t)
	src := t.TempDir()
	for k, v := range idx {
		writeFile(t, filepath.Join(src, k), v)
	}
	dataDir := t.TempDir()
	if _, err := Fetch(context.Background(), "fashion-mnist", dataDir, FetchOptions{From: src, SHA256: sums}); err != nil {
		t.Fatal(err)
	}
	onlyDataset(t, dataDir, "fashion-mnist")

	// A corrupt file in --from: an error naming it, the old dataset kept.
	writeFile(t, filepath.Join(src, "t10k-labels-idx1-ubyte.gz"), []byte("garbage"))
	_, err := Fetch(context.Background(), "fashion-mnist", dataDir, FetchOptions{From: src, SHA256: sums})
	errContains(t, err, "--from "+src, "t10k-labels-idx1-ubyte.gz: SHA-256")
	onlyDataset(t, dataDir, "fashion-mnist")
	if d, err := Open("fashion-mnist:test", Options{DataDir: dataDir}); err != nil || d.Len() != 12 {
		t.Fatalf("old dataset lost: %v", err)
	}

	// Files whose digest is right but whose content is not IDX: refused
	// after the digest check, nothing installed.
	writeFile(t, filepath.Join(src, "t10k-labels-idx1-ubyte.gz"), []byte("garbage"))
	sums["t10k-labels-idx1-ubyte.gz"] = sha([]byte("garbage"))
	dataDir = t.TempDir()
	_, err = Fetch(context.Background(), "mnist", dataDir, FetchOptions{From: src, SHA256: sums})
	errContains(t, err, "verifying the t10k files of mnist", "wrong magic number")
	onlyDataset(t, dataDir, "")

	srv := newFileServer(t, idx)
	for k, v := range idx {
		sums[k] = sha(v)
	}
	if _, err := Fetch(context.Background(), "mnist", dataDir, FetchOptions{From: srv.URL + "/x/", SHA256: sums, Backoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.requests() {
		if !strings.HasPrefix(r, "/x/") {
			t.Fatalf("request %q not under --from", r)
		}
	}
	_, err = Fetch(context.Background(), "imagenet", dataDir, FetchOptions{})
	errContains(t, err, `cannot fetch "imagenet"`)
}

// TestUntarGzBad: archives with entries outside the folder, links, or a
// batch file that is not whole records are refused.
func TestUntarGzBad(t *testing.T) {
	rec := map[string]int64{"a.bin": 3073}
	for _, tc := range []struct {
		name string
		hdr  tar.Header
		body []byte
		want string
	}{
		{"escape", tar.Header{Name: "f/../../evil", Typeflag: tar.TypeReg, Size: 1}, []byte("x"), "unexpected entry"},
		{"nested", tar.Header{Name: "f/sub/a.bin", Typeflag: tar.TypeReg, Size: 1}, []byte("x"), "unexpected entry"},
		{"symlink", tar.Header{Name: "f/a.bin", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil, "not a regular file"},
		{"partial record", tar.Header{Name: "f/a.bin", Typeflag: tar.TypeReg, Size: 3000}, make([]byte, 3000), "not a non-zero multiple of the 3073-byte record"},
		{"missing", tar.Header{Name: "f/other.txt", Typeflag: tar.TypeReg, Size: 1}, []byte("x"), "no f/a.bin in the archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			tc.hdr.Mode = 0o644
			if err := tw.WriteHeader(&tc.hdr); err != nil {
				t.Fatal(err)
			}
			tw.Write(tc.body)
			tw.Close()
			zw.Close()
			dir := t.TempDir()
			p := writeFile(t, filepath.Join(dir, "a.tar.gz"), buf.Bytes())
			out := t.TempDir()
			errContains(t, untarGz(p, "f", out, rec), tc.want)
			if _, err := os.Stat(filepath.Join(filepath.Dir(out), "evil")); err == nil {
				t.Fatal("entry escaped the folder")
			}
		})
	}
}

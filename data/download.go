package data

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RemoteFile is one published file of a dataset: its name, size and the
// SHA-256 digests it may have.
type RemoteFile struct {
	// Name is the file name as published (the last element of its URL).
	Name string
	// Size is the published size in bytes (0 if unknown); it sizes the
	// progress bar before the server has answered and bounds the download.
	Size int64
	// SHA256 lists the accepted hex digests of the file. A download or a
	// local copy is used only if its digest is one of them.
	SHA256 []string
}

// downloadLimit bounds a file of unknown size (2 GiB).
const downloadLimit = 2 << 30

// Progress reports how much of a file has arrived: done of total bytes
// (total 0 when unknown). resumed is the number of bytes that were already
// on disk from an earlier, interrupted attempt.
type Progress func(file string, done, total, resumed int64)

// downloader fetches RemoteFiles over HTTP(S) into a staging directory with
// resume (HTTP Range), retries with exponential backoff, mirrors tried in
// order and SHA-256 verification.
type downloader struct {
	client   *http.Client
	retries  int           // attempts per mirror after the first
	backoff  time.Duration // first wait; doubles, capped at maxBackoff
	progress Progress
	log      func(format string, args ...any)
}

const maxBackoff = 30 * time.Second

// permanentError is a mirror failure that retrying will not cure (404, a
// redirect loop, a digest mismatch).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// fetchFile downloads f from the first mirror that serves it with the right
// digest and returns the path of the verified file, stage/f.Name. A partial
// download is kept as stage/f.Name+".part" so that a later call resumes it.
func (d *downloader) fetchFile(ctx context.Context, f RemoteFile, mirrors []string, stage string) (string, error) {
	final := filepath.Join(stage, f.Name)
	if ok, _ := hasDigest(final, f.SHA256); ok {
		return final, nil
	}
	var errs []string
	for _, m := range mirrors {
		u, err := joinURL(m, f.Name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		err = d.fromMirror(ctx, f, u, final)
		if err == nil {
			return final, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		errs = append(errs, err.Error())
		d.log("%s: %v", u, err)
	}
	return "", fmt.Errorf("%s: no mirror served it: %s", f.Name, strings.Join(errs, "; "))
}

// joinURL appends name to a mirror's base URL.
func joinURL(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("mirror %q: not an http(s) URL", base)
	}
	return u.JoinPath(name).String(), nil
}

// fromMirror downloads one URL with retries, then checks the digest.
func (d *downloader) fromMirror(ctx context.Context, f RemoteFile, u, final string) error {
	part := final + ".part"
	wait := d.backoff
	for attempt := 0; ; attempt++ {
		err := d.get(ctx, f, u, part)
		if err == nil {
			ok, digest := hasDigest(part, f.SHA256)
			if ok {
				return os.Rename(part, final)
			}
			// The whole body arrived but is not the published file: start
			// over from another mirror rather than resume into it.
			os.Remove(part)
			return permanentError{fmt.Errorf("SHA-256 %s is not the published digest %s", digest, strings.Join(f.SHA256, " or "))}
		}
		var perm permanentError
		if errors.As(err, &perm) || ctx.Err() != nil || attempt >= d.retries {
			return err
		}
		d.log("%s: %v; retrying in %v", u, err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// get appends the rest of u to part, asking for a byte range when part
// already holds the beginning of the file.
func (d *downloader) get(ctx context.Context, f RemoteFile, u, part string) error {
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	if f.Size > 0 && have >= f.Size {
		if ok, _ := hasDigest(part, f.SHA256); ok {
			return nil
		}
		os.Remove(part) // complete but wrong: start again
		have = 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "stopped after") {
			return permanentError{fmt.Errorf("too many redirects")}
		}
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			return permanentError{err} // no such host: no use retrying
		}
		return err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			// Not the range asked for: drop the partial file and retry whole.
			os.Remove(part)
			return fmt.Errorf("server answered range request for byte %d with %q", have, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		have = 0
		flags |= os.O_TRUNC
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		os.Remove(part)
		return fmt.Errorf("server refused to resume at byte %d; starting over", have)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone ||
		resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return permanentError{fmt.Errorf("HTTP %s", resp.Status)}
	default:
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	total := f.Size
	if resp.ContentLength >= 0 {
		if total > 0 && have+resp.ContentLength != total {
			return permanentError{fmt.Errorf("server announces %d bytes, the published file has %d", have+resp.ContentLength, total)}
		}
		total = have + resp.ContentLength
	}
	limit := int64(downloadLimit)
	if total > 0 {
		limit = total
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return permanentError{err}
	}
	resumed := have
	pw := &progressWriter{w: out, name: f.Name, done: have, total: total, resumed: resumed, report: d.progress, first: true}
	pw.tick()
	n, err := io.Copy(pw, io.LimitReader(resp.Body, limit-have+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("connection lost after %d bytes: %w", have+n, err)
	}
	switch got := have + n; {
	case got > limit:
		os.Remove(part)
		return permanentError{fmt.Errorf("more than %d bytes", limit)}
	case total > 0 && got < total:
		return fmt.Errorf("body ended after %d of %d bytes", got, total)
	}
	return nil
}

// contentRangeStart parses the first byte of "bytes START-END/SIZE".
func contentRangeStart(h string) (int64, bool) {
	s, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(a, 10, 64)
	return v, err == nil
}

// progressWriter counts bytes and reports them on the first write, then
// at most every 100 ms and at the end.
type progressWriter struct {
	w                    io.Writer
	name                 string
	done, total, resumed int64
	report               Progress
	last                 time.Time
	first                bool // no write reported yet
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.first || time.Since(p.last) > 100*time.Millisecond || (p.total > 0 && p.done == p.total) {
		p.first = false
		p.tick()
	}
	return n, err
}

func (p *progressWriter) tick() {
	p.last = time.Now()
	if p.report != nil {
		p.report(p.name, p.done, p.total, p.resumed)
	}
}

// FileSHA256 returns the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hasDigest reports whether path exists and has one of the digests, and
// returns its digest.
func hasDigest(path string, digests []string) (bool, string) {
	d, err := FileSHA256(path)
	if err != nil {
		return false, ""
	}
	return slices.Contains(digests, d), d
}

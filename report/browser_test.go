package report

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromium returns the path of a Chromium binary or skips the test.
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium; scripts/test.sh does): skipping the browser test")
	return ""
}

// pageCheck is what the page's own script leaves in <body data-check>.
type pageCheck struct {
	Images int      `json:"images"`
	Broken int      `json:"broken"`
	Font   string   `json:"font"` // status of the embedded typeface
	Errors []string `json:"errors"`
}

var dataCheck = regexp.MustCompile(`data-check="([^"]*)"`)

// browse serves page on a local HTTP server, loads it in headless
// Chromium and returns the page's check and every path the browser asked
// the server for.
func browse(t *testing.T, bin string, page []byte, extra ...string) (*pageCheck, []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/report.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000"}
	args = append(append(args, extra...), "--dump-dom", srv.URL+"/report.html")
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := dataCheck.FindSubmatch(out)
	if m == nil {
		t.Fatalf("the page's check did not run (no data-check in the DOM); chromium said:\n%s", stderr.String())
	}
	c := new(pageCheck)
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), c); err != nil {
		t.Fatalf("data-check %q: %v", m[1], err)
	}
	mu.Lock()
	defer mu.Unlock()
	return c, paths
}

// TestBrowser loads a two-run report in headless Chromium: no script
// errors, no blocked or external requests, and every image rendered.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	runs, err := Load([]string{fullRun(t, "adv", "mnist"), fullRun(t, "arp", "mnist")}, false)
	if err != nil {
		t.Fatal(err)
	}
	page := []byte(render(t, runs))
	want := bytes.Count(page, []byte("<img "))
	c, paths := browse(t, bin, page)
	if c.Images != want || c.Broken != 0 || len(c.Errors) != 0 {
		t.Errorf("browser: %d of %d images, %d broken, errors %q", c.Images, want, c.Broken, c.Errors)
	}
	if c.Font != "loaded" {
		t.Errorf("browser: the embedded typeface is %q, want loaded", c.Font)
	}
	for _, p := range paths {
		if p != "/report.html" && p != "/favicon.ico" {
			t.Errorf("the page requested %s", p)
		}
	}
	// ARP_REPORT_SCREENSHOT=/tmp/report.png keeps a screenshot to look at.
	if shot := os.Getenv("ARP_REPORT_SCREENSHOT"); shot != "" {
		p := filepath.Join(t.TempDir(), "report.html")
		if err := os.WriteFile(p, page, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--user-data-dir="+t.TempDir(), "--hide-scrollbars", "--window-size=1400,2400", "--screenshot="+shot, "file://"+p).CombinedOutput()
		if err != nil {
			t.Errorf("screenshot: %v\n%s", err, out)
		}
	}
}

// TestBrowserCatchesBreakage is the control: the same check must notice a
// broken image and a request to another host.
func TestBrowserCatchesBreakage(t *testing.T) {
	bin := chromium(t)
	runs, err := Load([]string{fullRun(t, "adv", "mnist")}, false)
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, runs)
	bad := `<img src="data:image/png;base64,AAAA" alt="broken"><img src="http://192.0.2.1/x.png" alt="external">`
	page = strings.Replace(page, "<main>", "<main>"+bad, 1)
	// a font file the browser refuses: the WOFF header's signature broken
	const woffData = "data:font/woff;base64,"
	i := strings.Index(page, woffData) + len(woffData)
	page = page[:i] + "AAAA" + page[i+4:]
	c, _ := browse(t, bin, []byte(page))
	if c.Broken < 2 {
		t.Errorf("%d broken images reported, want 2", c.Broken)
	}
	blocked := false
	for _, e := range c.Errors {
		blocked = blocked || strings.Contains(e, "blocked")
	}
	if !blocked {
		t.Errorf("the request to another host was not blocked and reported: %q", c.Errors)
	}
	if c.Font != "error" || !strings.Contains(strings.Join(c.Errors, " "), "embedded font error") {
		t.Errorf("a broken embedded font: status %q, errors %q; want error, reported", c.Font, c.Errors)
	}
}

package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arp-robustness/arp/attack/attacktest"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func plainProgress() (*progress, *bytes.Buffer, *fakeClock) {
	var b bytes.Buffer
	c := &fakeClock{time.Unix(1000, 0)}
	p := newProgress(&b)
	p.now = c.now
	return p, &b, c
}

// TestProgressPlain: off a terminal, progress is plain lines with the
// rate and the time left, at each tenth of the task and when it ends.
func TestProgressPlain(t *testing.T) {
	p, b, c := plainProgress()
	if p.term {
		t.Fatal("a buffer taken for a terminal")
	}
	for i := 0; i <= 100; i++ {
		p.Report("eval", "units", int64(i), 100, "pgd linf 0.1")
		c.t = c.t.Add(time.Second)
	}
	p.Done()
	out := b.String()
	if strings.Contains(out, "\r") {
		t.Errorf("carriage returns in plain progress:\n%q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 12 { // the start, each tenth, the end
		t.Errorf("%d lines, want 12:\n%s", len(lines), out)
	}
	for _, want := range []string{
		"eval: 0 of 100 (0%) units, 0s elapsed; pgd linf 0.1",
		"eval: 50 of 100 (50%) units, 1 units/s, 50s elapsed, about 50s left; pgd linf 0.1",
		"eval: 100 of 100 (100%) units, 0.99 units/s, 1m41s elapsed; pgd linf 0.1",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
}

// TestProgressSlowAndFast: a slow task still writes a line a minute; a
// fast one no more than one per lineGap.
func TestProgressSlowAndFast(t *testing.T) {
	p, b, c := plainProgress()
	for i := 0; i < 50; i++ { // 1 unit per 10 s of 1000: a tenth takes 1000 s
		p.Report("slow", "images", int64(i), 1000, "")
		c.t = c.t.Add(10 * time.Second)
	}
	if n := strings.Count(b.String(), "\n"); n != 9 { // 490 s: at 0, 60, ..., 480 s
		t.Errorf("slow task: %d lines in 490 s, want 9:\n%s", n, b)
	}
	p, b, c = plainProgress()
	for i := 0; i <= 1000; i++ { // 1000 units in 1 s
		p.Report("fast", "images", int64(i), 1000, "")
		c.t = c.t.Add(time.Millisecond)
	}
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Errorf("fast task: %d lines in 1 s, want 1 (the start):\n%s", n, b)
	}
}

// TestProgressResumed: a resumed task counts its rate and time left from
// where it resumed; the rate counts from the first report.
func TestProgressResumed(t *testing.T) {
	p, b, c := plainProgress()
	p.Start("analyze run", "images", 400, 1000)
	p.Report("analyze run", "images", 400, 1000, "")
	c.t = c.t.Add(100 * time.Second)
	p.Report("analyze run", "images", 600, 1000, "")
	want := "analyze run (resumed at 400): 600 of 1000 (60%) images, 2 images/s, 1m40s elapsed, about 3m20s left\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("want %q in:\n%s", want, b)
	}
	p, b, c = plainProgress()
	p.Start("f.gz", "bytes", 2e6, 0)
	c.t = c.t.Add(time.Second) // connecting
	p.Report("f.gz", "bytes", 3e6, 0, "")
	c.t = c.t.Add(4 * time.Second)
	p.Report("f.gz", "bytes", 11e6, 0, "")
	p.Done()
	if want := "f.gz (resumed at 2.0): 11.0 MB, 2.00 MB/s, 5s elapsed\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("download: want %q at the end of:\n%s", want, b)
	}
}

// TestProgressTerminal: on a terminal, progress is a bar redrawn in place.
func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.term = true // as on a terminal
	p.Report("eval", "units", 0, 10, "fgsm")
	p.Println("a line above the bar")
	p.Report("eval", "units", 10, 10, "fgsm")
	p.Done()
	if !strings.Contains(b.String(), "\r") || !strings.Contains(b.String(), "a line above the bar\n") {
		t.Errorf("terminal progress: want frames (\\r) and the line, got %q", b.String())
	}
	// eval's total grows after the clean pass: the bar goes on
	b.Reset()
	p.Report("eval", "units", 15, 15, "clean images")
	p.Report("eval", "units", 16, 75, "fgsm")
	p.Report("eval", "units", 75, 75, "fgsm")
	p.Done()
	if !strings.Contains(b.String(), "eval: fgsm") || !strings.Contains(b.String(), "/60,") {
		t.Errorf("terminal progress with a growing total: want a bar of the 60 further units; got %q", b.String())
	}
	var nilp *progress
	nilp.Report("x", "y", 1, 2, "") // no writer, no progress
	nilp.Done()
}

var progressLine = regexp.MustCompile(`(?m)^(training|eval|analyze run): \d+ of \d+ \(\d+%\) (steps|units|images), [0-9.e+]+ (steps|units|images)/s, [0-9.hms]+ elapsed`)

// TestCommandsLogProgress: train, eval and analyze write the same clean
// progress lines when stderr is not a terminal.
func TestCommandsLogProgress(t *testing.T) {
	run := attacktest.RunDir(t)
	for _, args := range [][]string{
		small(t.TempDir()+"/run", "--steps", "4"),
		{"eval", "--model", run, "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "0.1", "--limit", "16", "--check-images", "0", "--batch", "8"},
		{"analyze", "--model", copyRun(t, run), "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "0.1", "--limit", "16", "--batch", "8"},
	} {
		code, _, errs := arp(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", args[0], code, errs)
		}
		if strings.Contains(errs, "\r") {
			t.Errorf("%s: carriage returns in a log:\n%q", args[0], errs)
		}
		if !progressLine.MatchString(errs) {
			t.Errorf("%s: no progress line with count, rate and elapsed time:\n%s", args[0], errs)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/data/datatest"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/job"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
	"github.com/spf13/pflag"
)

// folderRun writes a class-folder dataset of JPEG images (3 classes, n
// per class, 3 x side x side) and an untrained mnist-small run for it.
func folderRun(t *testing.T, n, side int) (run, images string, files []string) {
	t.Helper()
	dir := t.TempDir()
	images = filepath.Join(dir, "images")
	classes := []string{"cat", "dog", "emu"}
	files = datatest.ClassFolder(t, images, classes, n, side, side, true, 11)
	spec, err := nn.DefaultSpec("mnist-small", 3, side, side, len(classes))
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 5)
	if err != nil {
		t.Fatal(err)
	}
	run = filepath.Join(dir, "run")
	if err := nn.SaveRun(run, m, nn.Info{ClassNames: classes, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	return run, images, files
}

func timelessReport(t *testing.T, b []byte) eval.Report {
	t.Helper()
	var r eval.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	r.Seconds, r.Started = 0, time.Time{}
	for i := range r.Threats {
		for k := range r.Threats[i].Attacks {
			r.Threats[i].Attacks[k].Seconds = 0
		}
	}
	return r
}

// TestEvalStreamsWithinMemory: arp eval over a class-folder dataset of
// JPEG files larger than a deliberately small memory limit decodes one
// batch at a time, stays within the limit (the Go heap's growth,
// sampled), and gives the eval.json of the in-memory path (the dataset
// decoded whole, as before streaming) bit for bit; shards over the folder
// merge into the same report.
func TestEvalStreamsWithinMemory(t *testing.T) {
	run, images, _ := folderRun(t, 334, 56)
	dir := t.TempDir()
	common := []string{"eval", "--model", run, "--data", images, "--attacks", "fgsm", "--eps", "0.1",
		"--batch", "5", "--check-images", "0"}

	// the in-memory path: the whole dataset decoded, then evaluated
	var j job.Eval
	parse(t, j.Flags, common[1:]...)
	common = append(common, "--quiet")
	in, err := j.Open()
	if err != nil {
		t.Fatal(err)
	}
	var whole *data.Dataset
	var ref *eval.Report
	grewWhole := datatest.PeakHeap(func() {
		if whole, err = in.Data.ReadAll(); err != nil {
			return
		}
		ref, err = eval.RunFrom(context.Background(), in.Model.Classifier, data.FromDataset(whole), in.Options)
	})
	if err != nil {
		t.Fatal(err)
	}
	var rb bytes.Buffer
	if err := ref.JSON(&rb); err != nil {
		t.Fatal(err)
	}
	size := int64(len(whole.Images)) * 4
	whole = nil

	// streaming, with less memory than the decoded dataset needs
	limit := size / 2
	restore := limits.SetAvailable(limit)
	if _, err := data.Open(images, data.Options{}); err == nil || !strings.Contains(err.Error(), "of memory") {
		t.Fatalf("decoding all 1,002 images (%d bytes) within %d bytes: %v", size, limit, err)
	}
	out := filepath.Join(dir, "stream.json")
	var code int
	var errs string
	grew := datatest.PeakHeap(func() { code, _, errs = arp(t, append(common, "--json", out)...) })
	restore()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("decoded dataset %d bytes, limit %d, heap grew by at most %d bytes (the in-memory path: %d)", size, limit, grew, grewWhole)
	if grew > uint64(limit) {
		t.Errorf("arp eval grew the heap by %d bytes, more than the limit %d", grew, limit)
	}
	// the planted defect: the in-memory path (run before the limit was
	// injected) trips the same measurement, so the check above can fail
	if grewWhole <= uint64(limit) {
		t.Errorf("the in-memory path grew the heap by only %d bytes, within the limit %d: the measurement cannot tell streaming from decoding everything", grewWhole, limit)
	}
	got, _ := os.ReadFile(out)
	if a, b := timelessReport(t, rb.Bytes()), timelessReport(t, got); !reflect.DeepEqual(a, b) {
		t.Fatalf("streamed eval.json differs from the in-memory one:\n%+v\n%+v", b, a)
	}

	// shards over the class folders (the first 120 images: a shard syncs
	// its record file after every unit), merged, equal one process
	first := filepath.Join(dir, "first.json")
	if code, _, errs := arp(t, append(common, "--limit", "120", "--json", first)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var files []string
	for i := 0; i < 4; i++ {
		st := filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
		files = append(files, st)
		if code, _, errs := arp(t, append(common, "--limit", "120", "--shard", fmt.Sprintf("%d/4", i), "--state", st)...); code != 0 {
			t.Fatalf("shard %d: exit %d: %s", i, code, errs)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	if code, _, errs := arp(t, append([]string{"merge", "--json", merged}, files...)...); code != 0 {
		t.Fatalf("merge: %s", errs)
	}
	fb, _ := os.ReadFile(first)
	mb, _ := os.ReadFile(merged)
	if a, b := timelessReport(t, fb), timelessReport(t, mb); !reflect.DeepEqual(a, b) || a.Images != 120 {
		t.Fatal("merged shards' eval.json differs from one process's")
	}

	// a batch needing more memory than there is (300 images of 3x56x56
	// float32: 11.3 MB) is refused before any work; the model (3.2 MB) fits
	defer limits.SetAvailable(6 << 20)()
	code, _, errs = arp(t, append(common, "--batch", "300")...)
	if code != 1 || !strings.Contains(errs, "--batch 300: reading 300 images of "+images) || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// TestAnalyzeStreams: arp analyze over a class-folder dataset of JPEG
// files reads it a batch at a time and writes the records the in-memory
// path writes, byte for byte, whole and in shards.
func TestAnalyzeStreams(t *testing.T) {
	run, images, _ := folderRun(t, 8, 28)
	dir := t.TempDir()
	common := []string{"analyze", "--model", run, "--data", images, "--attacks", "fgsm,pgd:steps=2", "--eps", "0.1",
		"--batch", "5", "--gallery", "1"}
	var j job.Analyze
	parse(t, j.Flags, append(common[1:], "--out", filepath.Join(dir, "mem"))...)
	common = append(common, "--quiet")
	st, err := j.Open()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := st.Data.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	st.Data = data.FromDataset(whole)
	if _, err := st.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	stream := filepath.Join(dir, "stream")
	if code, _, errs := arp(t, append(common, "--out", stream)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var shards []string
	for i := 0; i < 3; i++ {
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		shards = append(shards, d)
		if code, _, errs := arp(t, append(common, "--shard", fmt.Sprintf("%d/3", i), "--out", d)...); code != 0 {
			t.Fatalf("shard %d: %s", i, errs)
		}
	}
	merged := filepath.Join(dir, "merged")
	if code, _, errs := arp(t, append([]string{"merge", "--out", merged}, shards...)...); code != 0 {
		t.Fatalf("merge: %s", errs)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "mem", rundir.AnalysisRecords))
	for _, d := range []string{stream, merged} {
		got, _ := os.ReadFile(filepath.Join(d, rundir.AnalysisRecords))
		if len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("%s: records differ from the in-memory path's (%d vs %d bytes)", d, len(got), len(want))
		}
	}
	if h, err := analysis.ReadHeader(stream); err != nil || h.Data.Images != 24 {
		t.Fatalf("header: %v", err)
	}
}

// TestEvalCorruptImage: a JPEG whose pixels do not decode, in the middle
// of a batch, ends arp eval and arp analyze with one line naming it.
func TestEvalCorruptImage(t *testing.T) {
	run, images, files := folderRun(t, 4, 28)
	datatest.Corrupt(t, files[6])
	for _, args := range [][]string{
		{"eval", "--model", run, "--data", images, "--attacks", "fgsm", "--eps", "0.1", "--batch", "4", "--quiet"},
		{"analyze", "--model", run, "--data", images, "--attacks", "fgsm", "--batch", "4", "--quiet", "--out", t.TempDir()},
	} {
		code, _, errs := arp(t, args...)
		// the one error line (arp eval prints its time estimate first)
		if code != 1 || !strings.Contains(errs, "arp: batch 1 (images 4-7): "+files[6]+": corrupt jpeg image") || strings.Count(errs, "arp:") != 1 {
			t.Errorf("%s: exit %d: %q", args[0], code, errs)
		}
	}
}

// parse sets a job's flags from args.
func parse(t *testing.T, flags func(*pflag.FlagSet), args ...string) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
}

package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
)

func shardStudy(dir string, sh shard.Spec) *Study {
	cfg := Config{Attacks: []string{"pgd:steps=3", "iter-ll:steps=2", "r-step-ll"}, Eps: 0.2, Layer: "feat", BatchSize: 10, Gallery: 2, Seed: 5}
	return &Study{Model: newRegionModel(16, 16, 8, 3), Data: data.FromDataset(squares()), DataSpec: "squares", Dir: dir, Config: cfg, Shard: sh}
}

// summaryJSON is a summary without what depends on the clock or the
// directory.
func summaryJSON(t *testing.T, dir string) string {
	t.Helper()
	s, err := Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := *s.Header
	h.Created = ""
	s.Header, s.Dir = &h, ""
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShardsEqualOneRun: four shards merged give the records.jsonl of one
// run byte for byte and the same summary; so do the batches analysed one
// at a time in any order (arp-beam's workers) combined in memory.
func TestShardsEqualOneRun(t *testing.T) {
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	if _, err := shardStudy(whole, shard.Spec{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	gallery := 0
	for i := 3; i >= 0; i-- {
		d := filepath.Join(root, fmt.Sprintf("shard%d", i))
		dirs = append(dirs, d)
		if _, err := shardStudy(d, shard.Spec{Index: i, Count: 4}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(d, rundir.AnalysisRecords))
		gallery += strings.Count(string(b), `"image":`)
		if _, err := Summarize(d); err == nil || !strings.Contains(err.Error(), "arp merge") {
			t.Errorf("summary of a shard: %v", err)
		}
	}
	merged := filepath.Join(root, "merged")
	if _, err := Merge(merged, dirs); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(whole, rundir.AnalysisRecords))
	b, _ := os.ReadFile(filepath.Join(merged, rundir.AnalysisRecords))
	if !bytes.Equal(a, b) {
		t.Fatalf("merged records differ from one run's (%d vs %d bytes)", len(b), len(a))
	}
	if n := strings.Count(string(a), `"image":`); n == 0 || gallery <= n {
		t.Fatalf("gallery images: %d in one run, %d in the shards: the test does not exercise the gallery's merge", n, gallery)
	}
	if summaryJSON(t, whole) != summaryJSON(t, merged) {
		t.Error("merged summary differs from one run's")
	}
	// items in memory, in reverse order, by separate studies
	var recs []*Record
	for b := 7; b >= 0; b -= 2 {
		rs, err := shardStudy("", shard.Spec{}).Work(context.Background(), b-1, b+1)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	h, err := shardStudy("", shard.Spec{}).Header()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Combine(h, recs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := encodeRecords(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Fatal("records combined from work items differ from one run's")
	}
}

func TestMergeRefusesBadInput(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	for i := 0; i < 3; i++ {
		d := filepath.Join(root, fmt.Sprintf("s%d", i))
		dirs = append(dirs, d)
		if _, err := shardStudy(d, shard.Spec{Index: i, Count: 3}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(root, "merged")
	if _, err := Merge(merged, dirs); err != nil {
		t.Fatal(err)
	}
	if _, err := Summarize(merged); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(merged, rundir.AnalysisRecords))
	other := filepath.Join(root, "other")
	st := shardStudy(other, shard.Spec{Index: 1, Count: 3})
	st.Config.Eps = 0.25
	if _, err := st.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	copyDir := func(name string, edit func(string) string) string {
		d := filepath.Join(root, name)
		os.MkdirAll(d, 0o755)
		for _, f := range []string{rundir.AnalysisHeader, rundir.AnalysisRecords} {
			b, _ := os.ReadFile(filepath.Join(dirs[1], f))
			if f == rundir.AnalysisRecords {
				b = []byte(edit(string(b)))
			}
			os.WriteFile(filepath.Join(d, f), b, 0o644)
		}
		return d
	}
	lines := func(s string) []string { return strings.SplitAfter(s, "\n") }
	for _, c := range []struct {
		name string
		dirs []string
		want string
	}{
		{"missing shard", []string{dirs[0], dirs[2]}, "no shard holds batches 2-4 (images 20-49)"},
		{"overlap", []string{dirs[0], dirs[1], dirs[1], dirs[2]}, "overlap"},
		{"another study", []string{dirs[0], other, dirs[2]}, "belongs to another study"},
		{"corrupt", []string{dirs[0], copyDir("corrupt", func(s string) string { l := lines(s); return l[0] + "{bad\n" + strings.Join(l[1:], "") }), dirs[2]}, "corrupt/records.jsonl: line 2"},
		{"cut", []string{dirs[0], copyDir("cut", func(s string) string { return s + `{"index":2` }), dirs[2]}, "ends in a line cut short"},
		{"incomplete", []string{dirs[0], copyDir("short", func(s string) string { l := lines(s); return strings.Join(l[:len(l)-3], "") }), dirs[2]}, "short (shard 1/3) is incomplete: 28 of its 30 images"},
		{"twice", []string{dirs[0], copyDir("twice", func(s string) string { return s + lines(s)[0] }), dirs[2]}, "recorded twice"},
		{"into a shard", []string{dirs[0], dirs[1], dirs[2]}, "is one of the shards"},
		{"no analysis", []string{dirs[0], root, dirs[2]}, "analysis.json is missing"},
	} {
		into := merged
		if c.name == "into a shard" {
			into = dirs[2]
		}
		if _, err := Merge(into, c.dirs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(merged, rundir.AnalysisRecords)); !bytes.Equal(before, after) {
		t.Error("a failed merge changed the merged records")
	}
	// shard ranges outside the study, and a shard's directory resumed as
	// another shard
	if _, err := shardStudy(filepath.Join(root, "x"), shard.Spec{Index: 0, Count: 9}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "9 shards for 8 batches") {
		t.Errorf("9 shards of 8 batches: %v", err)
	}
	if _, err := shardStudy(dirs[0], shard.Spec{Index: 1, Count: 3}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "shard 1/3 (batches 2-4), before shard 0/3 (batches 0-1)") {
		t.Errorf("shard 1/3 into shard 0/3's directory: %v", err)
	}
	if _, err := shardStudy("", shard.Spec{}).Work(context.Background(), 6, 9); err == nil || !strings.Contains(err.Error(), "outside the 8 batches of 72 images") {
		t.Errorf("work outside the study: %v", err)
	}
}

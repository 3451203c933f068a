package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/shard"
)

// shardOptions is a small evaluation with random attacks, both norms and
// a check subset that spans two batches.
func shardOptions(t *testing.T) Options {
	return Options{Attacks: mustAttacks(t, "fgsm", "pgd:steps=3:restarts=2", "square:queries=30", "pgd-l2:steps=3"),
		Eps: []float64{0.1, 0.05}, EpsL2: []float64{1.5}, BatchSize: 8, Seed: 5, CheckImages: 10, UnboundedSteps: 4,
		Model: "attacktest", ModelID: "sha-of-weights", Data: "mnist-mini:test"}
}

// timeless zeroes what depends on the clock.
func timeless(r *Report) *Report {
	c := *r
	c.Seconds, c.Resumed, c.Started = 0, 0, time.Time{}
	var threats []Threat
	for _, t := range r.Threats {
		var as []AttackResult
		for _, a := range t.Attacks {
			a.Seconds = 0
			as = append(as, a)
		}
		t.Attacks = as
		threats = append(threats, t)
	}
	c.Threats = threats
	return &c
}

// unitsOf reads the units of record files, without their times.
func unitsOf(t *testing.T, paths ...string) map[UnitKey]Unit {
	t.Helper()
	out := map[UnitKey]Unit{}
	for _, p := range paths {
		_, _, _, units, err := ReadRecords(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			if _, dup := out[u.UnitKey]; dup {
				t.Fatalf("%v twice", u.UnitKey)
			}
			u.Seconds = 0
			out[u.UnitKey] = u
		}
	}
	return out
}

// TestShardsEqualOneRun: four shards merged give the per-image records and
// the report of one uninterrupted run, bit for bit (times aside).
func TestShardsEqualOneRun(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 37)
	dir := t.TempDir()
	opt := shardOptions(t)
	opt.State = filepath.Join(dir, "whole.jsonl")
	ref, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := 0; i < 4; i++ {
		opt.State = filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
		files = append(files, opt.State)
		if err := RunShard(context.Background(), m, x, y, opt, shard.Spec{Index: i, Count: 4}); err != nil {
			t.Fatal(err)
		}
	}
	want, got := unitsOf(t, filepath.Join(dir, "whole.jsonl")), unitsOf(t, files...)
	if len(want) != len(got) {
		t.Fatalf("%d units from the shards, %d from one run", len(got), len(want))
	}
	subset := 0
	for k, u := range want {
		if !reflect.DeepEqual(got[k], u) {
			t.Fatalf("%v differs:\nshards %+v\nwhole  %+v", k, got[k], u)
		}
		if k.Phase == "subset" {
			subset++
		}
	}
	if subset == 0 {
		t.Fatal("no sanity-check units: the test does not cover the subset")
	}
	// merged in any order
	rep, err := Merge([]string{files[2], files[0], files[3], files[1]})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := timeless(ref), timeless(rep); !reflect.DeepEqual(a, b) {
		t.Fatalf("merged report differs:\n%+v\n%+v", b, a)
	}
	// items run one by one, in any order, by separate evaluations, give the
	// same units too (what arp-beam's workers do)
	e, err := New(m, x, y, shardOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	items := e.Items(0, e.Batches(), 2)
	var units []Unit
	for i := len(items) - 1; i >= 0; i-- {
		w, err := New(m, x, y, shardOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		us, err := w.Work(context.Background(), items[i])
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, us...)
	}
	for _, u := range units {
		u.Seconds = 0
		if !reflect.DeepEqual(u, want[u.UnitKey]) {
			t.Fatalf("item unit %v differs", u.UnitKey)
		}
	}
	beam, err := Combine(e.Header(), units)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := timeless(ref), timeless(beam); !reflect.DeepEqual(a, b) {
		t.Fatalf("report from items differs")
	}
	// and as one record file (what arp-beam writes for --state)
	b, err := EncodeRecords(e.Header(), 0, e.Batches(), "", units)
	if err != nil {
		t.Fatal(err)
	}
	all := filepath.Join(dir, "all.jsonl")
	if err := os.WriteFile(all, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := Merge([]string{all}); err != nil || !reflect.DeepEqual(timeless(ref), timeless(rep)) {
		t.Fatalf("record file of the items: %v", err)
	}
}

func TestMergeRefusesBadInput(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 24)
	dir := t.TempDir()
	opt := shardOptions(t)
	opt.Attacks = mustAttacks(t, "fgsm")
	opt.EpsL2 = nil
	var files []string
	for i := 0; i < 3; i++ {
		opt.State = filepath.Join(dir, fmt.Sprintf("s%d.jsonl", i))
		files = append(files, opt.State)
		if err := RunShard(context.Background(), m, x, y, opt, shard.Spec{Index: i, Count: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Merge(files); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lines := strings.SplitAfter(read(files[1]), "\n")
	other := opt
	other.Seed = 6
	other.State = filepath.Join(dir, "other.jsonl")
	if err := RunShard(context.Background(), m, x, y, other, shard.Spec{Index: 1, Count: 3}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"missing shard", []string{files[0], files[2]}, "no record file holds batches 1-1 (images 8-15)"},
		{"overlap", []string{files[0], files[1], files[1], files[2]}, "overlap"},
		{"another evaluation", []string{files[0], other.State, files[2]}, "different evaluation"},
		{"corrupt line", []string{files[0], write("corrupt.jsonl", lines[0]+"{not json\n"+strings.Join(lines[1:], "")), files[2]}, "corrupt.jsonl: line 2"},
		{"cut line", []string{files[0], write("cut.jsonl", read(files[1])+`{"unit":{"pha`), files[2]}, "cut.jsonl ends in a line cut short"},
		{"incomplete shard", []string{files[0], write("short.jsonl", strings.Join(lines[:len(lines)-2], "")), files[2]}, "short.jsonl (shard \"1/3\") is incomplete"},
		{"unit twice", []string{files[0], write("twice.jsonl", read(files[1])+lines[1]), files[2]}, "twice.jsonl: line"},
		{"not a record file", []string{write("junk.jsonl", "hello\n")}, "junk.jsonl: line 1"},
		{"no file", []string{filepath.Join(dir, "nope.jsonl")}, "nope.jsonl"},
	} {
		if _, err := Merge(c.files); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// a shard range outside the evaluation
	opt.State = filepath.Join(dir, "s9.jsonl")
	if err := RunShard(context.Background(), m, x, y, opt, shard.Spec{Index: 3, Count: 4}); err == nil || !strings.Contains(err.Error(), "4 shards for 3 batches") {
		t.Errorf("4 shards of 3 batches: %v", err)
	}
	e, err := New(m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Work(context.Background(), Item{Threat: 0, Lo: 2, Hi: 5}); err == nil || !strings.Contains(err.Error(), "outside the 3 batches of 24 images") {
		t.Errorf("item outside the evaluation: %v", err)
	}
	// a shard's file is not the whole evaluation's
	opt.State = files[0]
	if _, err := Run(context.Background(), m, x, y, opt); err == nil || !strings.Contains(err.Error(), "holds batches 0-0") {
		t.Errorf("resuming a shard's file as the whole evaluation: %v", err)
	}
}

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
)

func arpBeam(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(args, &out, &errb)
	return out.String() + errb.String(), err
}

func TestCommand(t *testing.T) {
	runDir := attacktest.RunDir(t)
	dir := t.TempDir()
	js := filepath.Join(dir, "eval.json")
	out, err := arpBeam("eval", "--model", runDir, "--data", "mnist-mini", "--attacks", "fgsm,pgd:steps=2", "--eps", "0.1",
		"--limit", "16", "--batch", "8", "--check-images", "4", "--json", js, "--retries", "0")
	if err != nil || !strings.Contains(out, "worst case") || !strings.Contains(out, "wrote "+js) {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	an := filepath.Join(dir, "an")
	out, err = arpBeam("analyze", "--model", runDir, "--data", "mnist-mini", "--attacks", "fgsm", "--limit", "16", "--batch", "8", "--out", an, "--runner", "direct")
	if err != nil || !strings.Contains(out, "observation 1") {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"eval", "--model", runDir, "--data", "mnist-mini", "--eps", "0.1"}, "--json FILE is required"},
		{[]string{"eval", "--model", runDir, "--data", "mnist-mini", "--eps", "0.1", "--json", js, "--runner", "nope"}, `--runner "nope"`},
		{[]string{"eval", "--model", runDir, "--data", "mnist-mini", "--eps", "0.1", "--json", js, "--shard", "0/2", "--state", "s"}, "arp-beam splits the work itself"},
		{[]string{"eval", "--model", filepath.Join(dir, "none"), "--data", "mnist-mini", "--eps", "0.1", "--json", js}, "no such file or directory"},
		{[]string{"eval", "--model", runDir, "--data", "mnist-mini", "--eps", "0.1", "--json", js, "--batches-per-item", "0"}, "--batches-per-item 0 must be >= 1"},
		{[]string{"eval", "--model", runDir, "--data", "mnist-mini", "--eps", "0.1", "--json", js, "--concurrency", "2"}, "unknown flag: --concurrency"},
		{[]string{"analyze", "--model", runDir, "--data", "mnist-mini"}, "--out DIR is required"},
		{[]string{"eval", "--model", runDir, "--data", "mnist-mini", "--eps", "0.1", "--json", js, "extra"}, `unexpected argument "extra"`},
	} {
		if _, err := arpBeam(c.args...); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line containing %q", c.args, err, c.want)
		}
	}
}

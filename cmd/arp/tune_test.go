package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/eval"
)

func TestTuneCommand(t *testing.T) {
	run := attacktest.RunDir(t)
	js := filepath.Join(t.TempDir(), "tune.json")
	code, out, errs := arp(t, "tune", "--model", run, "--data", "mnist-mini:train:heldout=100:seed=2", "--limit", "20", "--eps", "0.1",
		"--lambdas", "0,1000", "--steps", "4", "--restarts", "1", "--quiet", "--json", js)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"20 of", "pgd:steps=4:restarts=1 (reference)", "**(selected)**", "in arp eval: --attacks ...,attention-loss:steps=4:restarts=1:lambda=", "wrote " + js} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errs, "not a held-out set") {
		t.Errorf("held-out data taken for test data: %s", errs)
	}
	var rep eval.TuneReport
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != 2 || rep.Eval == nil {
		t.Fatalf("JSON (%v): %+v", err, rep)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tune", "--model", run, "--data", "mnist-mini", "--eps", "0"}, "--eps 0"},
		{[]string{"tune", "--model", run, "--data", "mnist-mini", "--eps", "0.1", "--lambdas", "1,1"}, "weight 1 is listed twice"},
		{[]string{"tune", "--data", "mnist-mini", "--eps", "0.1"}, "--model is required"},
	} {
		code, _, errs := arp(t, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.args, code, errs)
		}
	}
}

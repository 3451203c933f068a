package job

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/spf13/pflag"
)

func parse(t *testing.T, flags func(*pflag.FlagSet), args ...string) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
}

// TestJobsTravelAsJSON: a job parsed from flags survives the JSON a Beam
// worker receives it in, and opens to the same evaluation there.
func TestJobsTravelAsJSON(t *testing.T) {
	run := attacktest.RunDir(t)
	var e Eval
	parse(t, e.Flags, "--model", run, "--data", "mnist-mini", "--eps", "0.1,0.2", "--attacks", "fgsm,pgd:steps=3", "--limit", "20", "--batch", "8")
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var back Eval
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(e, back) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, back, e)
	}
	a, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	c, err := back.Open()
	if err != nil {
		t.Fatal(err)
	}
	if a.Options.ModelID == "" || a.Options.ModelID != c.Options.ModelID || a.Data.Len() != 20 || a.Options.DataImages != 1000 || a.Options.CheckImages != EvalDefaultChecks {
		t.Fatalf("opened %+v", a.Options)
	}
	var an Analyze
	parse(t, an.Flags, "--model", run, "--data", "mnist-mini", "--limit", "10", "--shard", "1/2", "--out", t.TempDir())
	b, _ = json.Marshal(&an)
	var anBack Analyze
	if err := json.Unmarshal(b, &anBack); err != nil || !reflect.DeepEqual(an, anBack) {
		t.Fatalf("round trip: %v", err)
	}
	st, err := anBack.Open()
	if err != nil {
		t.Fatal(err)
	}
	if st.Shard.String() != "1/2" || st.Config.Limit != 10 || st.Config.Layer != "pool2" || st.ModelRef.WeightsSHA256 == "" {
		t.Fatalf("study %+v", st)
	}
}

func TestEvalCheck(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--attacks", "fgsm,bogus"}, `unknown attack "bogus"`},
		{[]string{"--batch", "0"}, "--batch 0"},
		{[]string{"--check-images", "-1"}, "--check-images -1"},
		{[]string{"--limit", "-3"}, "--limit -3"},
		{[]string{"--shard", "2/2", "--state", "s"}, "--shard: shard \"2/2\""},
		{[]string{"--shard", "0/2"}, "--shard needs --state"},
		{[]string{"--shard", "0/2", "--state", "s", "--json", "r.json"}, "a shard has no report"},
		{[]string{"--plot", "p.jpg"}, "want a .png file"},
	} {
		var e Eval
		parse(t, e.Flags, c.args...)
		if err := e.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	var a Analyze
	parse(t, a.Flags, "--shard", "0/2")
	if _, err := a.Open(); err == nil || !strings.Contains(err.Error(), "--shard needs --out") {
		t.Errorf("analysis shard without --out: %v", err)
	}
}

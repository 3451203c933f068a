package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/buildinfo"
)

// TestReportRecordsArpVersion: the JSON and Markdown reports say which arp
// wrote them, so results from different builds can be told apart.
func TestReportRecordsArpVersion(t *testing.T) {
	defer func(v string) { buildinfo.Version = v }(buildinfo.Version)
	buildinfo.Version = "v9.9.9-test"
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 8)
	opt := Options{Attacks: mustAttacks(t, "fgsm"), Eps: []float64{0.1}, BatchSize: 8, Seed: 1}
	rep, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	var js, md strings.Builder
	if err := rep.JSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := rep.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"JSON": js.String(), "Markdown": md.String()} {
		if !strings.Contains(s, "v9.9.9-test") {
			t.Errorf("%s report does not name the arp version:\n%s", name, s)
		}
	}
}

package eval

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
)

func TestImageSetJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 1000, 10000} {
		s := make(ImageSet, n)
		for i := range s {
			s[i] = rng.IntN(3) > 0
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back ImageSet
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if err := back.trim(n, "set"); err != nil {
			t.Fatal(err)
		}
		if len(back) != n {
			t.Fatalf("%d images back as %d", n, len(back))
		}
		for i := range s {
			if s[i] != back[i] {
				t.Fatalf("%d images: image %d changed", n, i)
			}
		}
	}
	// a bitmap of the wrong length, or marking images beyond the set
	var s ImageSet
	if err := json.Unmarshal([]byte(`"/w=="`), &s); err != nil { // 0xff 0x..
		t.Fatal(err)
	}
	if err := s.trim(5, "set"); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Fatalf("bits beyond the images: %v", err)
	}
	if err := json.Unmarshal([]byte(`"AAAA"`), &s); err != nil {
		t.Fatal(err)
	}
	if err := s.trim(5, "set"); err == nil {
		t.Fatal("a 24-image bitmap accepted for 5 images")
	}
	if err := json.Unmarshal([]byte(`"not base64!"`), &s); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

// withImages gives a report per-image outcomes: correct and robust mark
// the images by position.
func withImages(r *Report, correct, robust []int) *Report {
	r.Images = 10
	r.Clean = Counts{Correct: len(correct), Total: 10, Accuracy: float64(len(correct)) / 10}
	r.Correct, r.Threats[0].Robust = make(ImageSet, 10), make(ImageSet, 10)
	for _, i := range correct {
		r.Correct[i] = true
	}
	for _, i := range robust {
		r.Threats[0].Robust[i] = true
	}
	return r
}

func TestPairImages(t *testing.T) {
	sub := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	a := withImages(seedReport(1, 0.9, 0.5, 0.5, sub), []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, []int{0, 1, 2, 3, 4})
	b := withImages(seedReport(1, 0.8, 0.3, 0.3, sub), []int{0, 1, 2, 3, 4, 5, 6, 9}, []int{0, 1, 9})
	ps, err := PairImages(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Cell != "clean" || ps[1].Cell != "worst case linf eps 0.1" {
		t.Fatalf("cells %+v", ps)
	}
	w := ps[1].Paired
	if w.Both != 2 || w.OnlyA != 3 || w.OnlyB != 1 || w.Neither != 4 || w.Diff.Estimate != 0.2 {
		t.Fatalf("worst case paired %+v", w)
	}
	c := ps[0].Paired
	if c.Both != 7 || c.OnlyA != 2 || c.OnlyB != 1 {
		t.Fatalf("clean paired %+v", c)
	}
	other := withImages(seedReport(1, 0.8, 0.3, 0.3, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11}), nil, nil)
	if _, err := PairImages(a, other); err == nil || !strings.Contains(err.Error(), "other images") {
		t.Fatalf("other images: %v", err)
	}
	if _, err := PairImages(a, seedReport(1, 0.8, 0.3, 0.3, sub)); err == nil {
		t.Fatal("a report without per-image outcomes paired")
	}
	// the seeds comparison pairs image by image where it can
	g1 := SeedGroup{Name: "arp", Reports: []*Report{a}}
	g2 := SeedGroup{Name: "adv", Reports: []*Report{b}}
	cmp, err := CompareSeeds([]SeedGroup{g1, g2}, [][2]string{{"arp", "adv"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.ByImage) != 1 || cmp.ByImage[0].Cells[1].Paired.OnlyA != 3 {
		t.Fatalf("by image %+v", cmp.ByImage)
	}
	var md strings.Builder
	if err := cmp.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| arp − adv | 1 | worst case linf eps 0.1 | +20.00 | [") {
		t.Fatalf("markdown:\n%s", md.String())
	}
	// and the sets survive a report's JSON
	p := filepath.Join(t.TempDir(), "r.json")
	bs, _ := json.Marshal(a)
	if err := os.WriteFile(p, bs, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Correct) != 10 || !back.Threats[0].Robust[4] || back.Threats[0].Robust[5] {
		t.Fatalf("read back %v %v", back.Correct, back.Threats[0].Robust)
	}
}

// TestReadReportCombinesRecordFiles: a record file given where a report is
// expected is combined into the report it holds, per-image outcomes
// included (the seeds comparison of reports written before those existed).
func TestReadReportCombinesRecordFiles(t *testing.T) {
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 23)
	opt := shardOptions(t)
	state := filepath.Join(t.TempDir(), "e.state")
	opt.State = state
	rep, err := Run(context.Background(), m, x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(state)
	if err != nil {
		t.Fatal(err)
	}
	if back.Clean != rep.Clean || len(back.Correct) != rep.Images || len(back.Threats) != len(rep.Threats) || back.Threats[0].Worst != rep.Threats[0].Worst {
		t.Fatalf("combined %+v, ran %+v", back, rep)
	}
	n := 0
	for _, on := range back.Threats[0].Robust {
		if on {
			n++
		}
	}
	if n != rep.Threats[0].Worst.Correct {
		t.Fatalf("%d robust images marked, worst case %d", n, rep.Threats[0].Worst.Correct)
	}
}

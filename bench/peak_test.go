package bench

import (
	"context"
	"testing"
	"time"

	"github.com/arp-robustness/arp/kernels"
)

func TestPeakRows(t *testing.T) {
	cfg := PeakConfig{Arch: "mnist-small", Batch: 2, Threads: 1, MinTime: time.Millisecond, GEMMSizes: []int{8}}
	res, err := Peak(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(cfg.Paths); want != 0 && len(res) != want {
		t.Fatalf("%d paths, want %d", len(res), want)
	}
	for _, pp := range res {
		// mnist-small: two convolutions (three ops on the batch, three
		// per image) and two dense layers (three ops), and one GEMM
		if len(pp.Rows) != 2*6+2*3+1 {
			t.Fatalf("path %s: %d rows, want 19: %+v", pp.Path, len(pp.Rows), pp.Rows)
		}
		for _, r := range pp.Rows {
			if r.MS <= 0 || r.MinMS <= 0 || r.MinMS > r.MS || r.GFLOPS <= 0 || r.GFLOP <= 0 {
				t.Errorf("path %s: bad row %+v", pp.Path, r)
			}
			if (pp.Path == kernels.Go.String()) != (r.Share == 0) {
				t.Errorf("path %s: share %v with peak %v", pp.Path, r.Share, pp.PeakGFLOPS)
			}
		}
	}
	if len(res) == 0 || res[len(res)-1].Path != "go" {
		t.Fatalf("the Go path was not measured: %+v", res)
	}
}

package job

import (
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// TestCheckBatchMemoryCountsModel: the up-front memory check counts the
// model's weights beside the batch: a limit that fits the batch alone but
// not the batch and the model is refused (by CheckBatchMemory, and by the
// eval and analyze jobs' Open before any work where the model alone
// loads), with one line naming --batch; a limit that fits both passes. The weights' estimate (the
// weights file's size) is held against the loaded weights' own size.
func TestCheckBatchMemoryCountsModel(t *testing.T) {
	run := attacktest.RunDir(t)
	lm, err := OpenModel(run)
	if err != nil {
		t.Fatal(err)
	}
	weights, err := lm.WeightBytes()
	if err != nil {
		t.Fatal(err)
	}
	var loaded int64
	for name, w := range lm.Classifier.(*nn.Model).State() {
		if w.DType() != tensor.Float32 {
			t.Fatalf("%s: %v weights", name, w.DType())
		}
		loaded += 4 * int64(w.Size())
	}
	t.Logf("weights file %d bytes, loaded weights %d bytes", weights, loaded)
	if weights < loaded || weights > loaded+loaded/20+16<<10 {
		t.Fatalf("weights file %d bytes: not an estimate of the loaded weights' %d bytes", weights, loaded)
	}

	d, name, _, err := OpenData("mnist-mini", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 8
	images := d.Need(batch)
	if weights/2 <= 0 || images <= 0 {
		t.Fatalf("weights %d, batch %d bytes", weights, images)
	}
	// loading the model checks its own memory first: the jobs' Open is
	// tried where the model alone fits
	for _, c := range []struct {
		name     string
		limit    int64
		ok, open bool
	}{
		{"fits neither", images - 1, false, false},
		{"fits the batch alone", images + weights/2, false, false},
		{"fits the batch or the model alone", weights + images/2, false, true},
		{"fits the batch beside the model, just", images + weights, true, false},
		{"fits with room", 2 * (images + weights), true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer limits.SetAvailable(c.limit)()
			err := CheckBatchMemory(d, name, batch, lm)
			if c.ok {
				if err != nil {
					t.Fatalf("limit %d (batch %d + weights %d bytes): %v", c.limit, images, weights, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("limit %d (batch %d + weights %d bytes) not refused", c.limit, images, weights)
			}
			refused(t, err, "--batch 8: reading 8 images of mnist-mini", run)
			if !c.open {
				return
			}
			var e Eval
			parse(t, e.Flags, "--model", run, "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "0.1", "--batch", "8")
			_, err = e.Open()
			refused(t, err, "--batch 8: reading 8 images of mnist-mini", run)
			var a Analyze
			parse(t, a.Flags, "--model", run, "--data", "mnist-mini", "--attacks", "fgsm", "--eps", "0.1", "--batch", "8", "--out", t.TempDir()+"/out")
			_, err = a.Open()
			refused(t, err, "--batch 8: reading 8 images of mnist-mini", run)
		})
	}
}

// refused checks a one-line memory error naming --batch and the model.
func refused(t *testing.T, err error, prefix, model string) {
	t.Helper()
	if err == nil {
		t.Fatal("not refused")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, "beside model "+model) || !strings.Contains(msg, "of memory") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line starting %q naming the model", msg, prefix)
	}
}

// TestBatchNeedCountsWeightsOnlyAgainstABudget: against $ARP_MEMORY the
// model's weights are added to the batch; against memory measured from the
// machine (where the loaded model is already in use) they are not, so the
// model is not counted twice; sums saturate instead of overflowing.
func TestBatchNeedCountsWeightsOnlyAgainstABudget(t *testing.T) {
	const max = int64(^uint64(0) >> 1)
	for _, c := range []struct {
		name            string
		images, weights int64
		budgeted        bool
		want            int64
	}{
		{"budget: both", 1000, 300, true, 1300},
		{"measured: images only", 1000, 300, false, 1000},
		{"budget: saturates", max - 10, 300, true, max},
		{"measured: no overflow", max - 10, 300, false, max - 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := batchNeed(c.images, c.weights, c.budgeted); got != c.want {
				t.Fatalf("batchNeed(%d, %d, %v) = %d, want %d", c.images, c.weights, c.budgeted, got, c.want)
			}
		})
	}
	// the switch: SetAvailable and $ARP_MEMORY are budgets, neither is a measurement
	t.Setenv(limits.MemoryEnv, "")
	if limits.Budgeted() {
		t.Fatal("Budgeted with neither $ARP_MEMORY nor SetAvailable")
	}
	restore := limits.SetAvailable(1 << 30)
	if !limits.Budgeted() {
		t.Fatal("SetAvailable is not a budget")
	}
	restore()
	t.Setenv(limits.MemoryEnv, "4GB")
	if !limits.Budgeted() {
		t.Fatalf("$%s is not a budget", limits.MemoryEnv)
	}
}

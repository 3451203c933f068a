package explain

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/tensor"
)

// digit returns the trained test model and a correctly classified test
// digit.
func digit(t *testing.T) (*modelio.Model, []float32, int) {
	t.Helper()
	m, err := modelio.Load(attacktest.RunDir(t))
	if err != nil {
		t.Fatal(err)
	}
	_, test := attacktest.MNIST(t)
	return m, test.Image(0), test.Labels[0]
}

func TestExplainGradCAMUnderAttack(t *testing.T) {
	m, img, label := digit(t)
	method, _ := attention.MethodByName("gradcam-arp", false)
	gt, truth := Truth(img, 1, 28, 28, nil, data.DigitThreshold)
	if gt == nil || truth.Source == "" || truth.Area != mask.Count(gt) {
		t.Fatalf("no object ground truth for a digit: %+v", truth)
	}
	x, err := Explain(context.Background(), Request{Model: m, Image: img, Method: "gradcam-arp", Label: label, Target: -1,
		CAM: attention.Options{Layer: m.Meta.AttentionLayer, Method: method}, Mask: MaskDefaults("gradcam-arp", attention.MaskOptions{}),
		Attack: attack.NewFGSM(0.3)})
	if err != nil {
		t.Fatal(err)
	}
	if x.Target != label || x.TargetSource != "label" || x.AttackLabel != label || x.Adversarial == nil {
		t.Fatalf("target %d (%s), attack label %d", x.Target, x.TargetSource, x.AttackLabel)
	}
	if len(x.Clean.Up) != 28*28 || len(x.Clean.Mask) != 28*28 || x.Clean.H*x.Clean.W != len(x.Clean.Coarse) || x.Clean.H >= 28 {
		t.Fatalf("clean view sizes: map %dx%d, up %d, mask %d", x.Clean.H, x.Clean.W, len(x.Clean.Up), len(x.Clean.Mask))
	}
	rec := x.Record(RecordOptions{Version: "test", Truth: gt, GroundTruth: truth, AttackSpec: "fgsm", Seed: 1, Scale: 2})
	if rec.Comparison == nil || rec.Adversarial == nil || rec.Adversarial.Linf == nil || *rec.Adversarial.Linf > 0.3+1e-6 ||
		rec.Clean.Coverage == nil || rec.Settings.Attack["spec"] != "fgsm" || rec.Image.Label == nil || *rec.Image.Label != label {
		t.Fatalf("record %+v", rec)
	}
	if want := mask.IoU(x.Clean.Mask, x.Adversarial.Mask); rec.Comparison.IoU != want {
		t.Errorf("IoU %g, want %g", rec.Comparison.IoU, want)
	}
	dir := t.TempDir()
	files, err := x.WritePictures(dir, gt, 2)
	if err != nil || !slices.Equal(files, []string{"overlay_clean.png", "overlay_adv.png", "panel.png"}) {
		t.Fatalf("pictures %v, %v", files, err)
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var b strings.Builder
	rec.Summary(&b, 0.3)
	for _, want := range []string{"clean:", "gradcam-arp at pool2", "adversarial:", "after fgsm (eps 0.3)", "coverage of the ground truth"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func TestExplainLIME(t *testing.T) {
	m, img, _ := digit(t)
	opt := MaskDefaults("lime", attention.MaskOptions{})
	if opt.Method != attention.MaskTopK || opt.K != 10 {
		t.Fatalf("lime's default mask: %+v", opt)
	}
	x, err := Explain(context.Background(), Request{Model: m, Image: img, Method: "lime", Label: -1, Target: 3, Mask: opt,
		LIME: LIMEOptions{Samples: 100, Seed: 2, Segmenter: "auto", Superpixels: 30, KernelSize: 4, MaxDist: 200}})
	if err != nil {
		t.Fatal(err)
	}
	if x.Target != 3 || x.TargetSource != "--target" || x.LIMESettings["segmenter"] != "slic" || x.Clean.LIME == nil {
		t.Fatalf("target %d (%s), settings %v", x.Target, x.TargetSource, x.LIMESettings)
	}
	if n := len(x.Clean.LIMESegments); n == 0 || n > 10 || mask.Count(x.Clean.Mask) == 0 {
		t.Errorf("%d superpixels in the mask, %d pixels", n, mask.Count(x.Clean.Mask))
	}
	// the batch function gives the same map
	b, err := LIME(context.Background(), m, tensor.FromFloat32(img, 1, 1, 28, 28), []int{3}, func(int) lime.ImageOptions { return x.LIME })
	if err != nil || !slices.Equal(b.Up[0], x.Clean.Up) {
		t.Errorf("LIME batch map differs from the explanation's: %v", err)
	}
}

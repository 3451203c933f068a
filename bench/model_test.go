package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/nn"
)

// noLayer hides a model's attention layer.
type noLayer struct{ nn.Classifier }

// A loaded classifier is timed on the inference cases at its own input
// size (gradcam only when it names an attention layer); the training
// cases are refused.
func TestRunLoadedModel(t *testing.T) {
	spec, err := nn.DefaultSpec("mnist-small", 1, 20, 12, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{Arch: "loaded", Model: m, Batch: 2, Steps: 1, Threads: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
		if r.Arch != "loaded" || r.Batch != 2 || r.MedianMS <= 0 {
			t.Errorf("%+v", r)
		}
	}
	if strings.Join(names, ",") != "forward,stepll,pgd10,gradcam" {
		t.Fatalf("cases %v", names)
	}
	_, err = Run(context.Background(), Config{Model: m, Cases: []string{"forward", "train"}, Steps: 1}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `bench case "train" trains an arp architecture; a loaded model runs forward, stepll, pgd10, gradcam`) {
		t.Fatalf("err %v", err)
	}
	res, err = Run(context.Background(), Config{Model: noLayer{m}, Batch: 2, Steps: 1, Threads: 1}, nil, nil)
	if err != nil || len(res) != 3 || res[2].Name != "pgd10" {
		t.Fatalf("without an attention layer: %v %+v", err, res)
	}
	_, err = Run(context.Background(), Config{Model: noLayer{m}, Cases: []string{"gradcam"}, Steps: 1}, nil, nil)
	if err == nil || err.Error() != "bench case gradcam: the model names no attention layer" {
		t.Fatalf("gradcam without an attention layer: %v", err)
	}
}

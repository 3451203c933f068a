package explain_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/explain"
	"github.com/arp-robustness/arp/modelio"
	"github.com/arp-robustness/arp/nn"
)

// Explain a digit with the ARP paper's Grad-CAM, clean and after Step-LL.
func Example() {
	dir, _ := os.MkdirTemp("", "explain")
	defer os.RemoveAll(dir)
	spec, _ := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	net, _ := nn.Build(spec, 1) // untrained: a stand-in for a run of arp train
	_ = nn.SaveRun(filepath.Join(dir, "run"), net, nn.Info{Seed: 1})
	model, _ := modelio.Load(filepath.Join(dir, "run"))
	test, _ := data.Open("mnist-mini:test", data.Options{})
	x, err := explain.Explain(context.Background(), explain.Request{Model: model, Image: test.Image(0), Method: "gradcam-arp",
		CAM:  attention.Options{Layer: model.Meta.AttentionLayer},
		Mask: explain.MaskDefaults("gradcam-arp", attention.MaskOptions{}), Label: test.Labels[0], Target: -1,
		Attack: attack.NewStepLL(0.075)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("explains class", x.Target, "from the", x.TargetSource)
	fmt.Println("map", x.Clean.H, "x", x.Clean.W, "upsampled to", len(x.Clean.Up), "pixels; adversarial view:", x.Adversarial != nil)
	// Output:
	// explains class 6 from the label
	// map 7 x 7 upsampled to 784 pixels; adversarial view: true
}

package attack

import (
	"fmt"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// attentionLayer returns the layer the attention attacks tap: layer if
// set, else the model's attention layer (nn.Model's Spec.Attention).
func attentionLayer(name string, m nn.Classifier, layer string) (string, error) {
	if layer == "" {
		layer = nn.DefaultAttentionLayer(m)
	}
	if layer == "" {
		return "", fmt.Errorf("%s: the model has no default attention layer; set the layer (one of %v)", name, m.LayerNames())
	}
	if err := nn.CheckLayer(m, layer); err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return layer, nil
}

// attentionMasks returns the ARP Grad-CAM maps of x for classes y at layer,
// upsampled to the image size, and their mean-threshold masks.
func attentionMasks(m nn.Classifier, x *tensor.Tensor, y []int, layer string) ([][]float32, [][]bool, error) {
	res, err := attention.Compute(m, autograd.Const(x), y, attention.Options{Layer: layer, Upsample: true})
	if err != nil {
		return nil, nil, err
	}
	n, h, w := x.Shape()[0], x.Shape()[2], x.Shape()[3]
	v := res.Map.Value().Float32s()
	maps := make([][]float32, n)
	masks := make([][]bool, n)
	for i := 0; i < n; i++ {
		maps[i] = v[i*h*w : (i+1)*h*w]
		masks[i] = mask.MeanThreshold(maps[i], h, w)
	}
	return maps, masks, nil
}

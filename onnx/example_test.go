package onnx_test

import (
	"fmt"
	"log"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx"
	"github.com/arp-robustness/arp/tensor"
)

// Load a classifier exported from PyTorch (with its metadata file
// resnet.onnx.json) and compute Grad-CAM maps at a module of it.
func Example() {
	g, err := onnx.Load("testdata/resnet.onnx")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input", g.InputShape(), "classes", g.NumClasses(), "attention layer", g.Meta().AttentionLayer)
	x := autograd.Const(tensor.Full(tensor.Float32, 0.5, 2, 3, 12, 12))
	method, _ := attention.MethodByName("gradcam", false)
	res, err := attention.Compute(g, x, []int{0, 1}, attention.Options{Layer: "layer2", Method: method})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("map", res.Map.Shape())
	// Output:
	// input [3 12 12] classes 6 attention layer layer2
	// map [2 1 6 6]
}

// Export an arp model and import it again: the same function, with arp's
// layer names.
func ExampleExport() {
	spec, err := nn.DefaultSpec("mnist-small", 1, 12, 12, 3)
	if err != nil {
		log.Fatal(err)
	}
	m, err := nn.Build(spec, 1)
	if err != nil {
		log.Fatal(err)
	}
	b, meta, err := onnx.Export(m, onnx.ExportOptions{ClassNames: []string{"cat", "dog", "fox"}})
	if err != nil {
		log.Fatal(err)
	}
	file, err := onnx.Decode(b)
	if err != nil {
		log.Fatal(err)
	}
	g, err := onnx.Import(file, meta)
	if err != nil {
		log.Fatal(err)
	}
	x := autograd.Const(tensor.Full(tensor.Float32, 0.5, 1, 1, 12, 12))
	y1, _ := m.Forward(x, nn.Eval)
	y2, acts := g.Forward(x, nn.Eval, "pool2")
	fmt.Println("opset", file.Opset, "classes", g.Meta().ClassNames)
	fmt.Println("pool2", acts["pool2"].Shape(), "same logits:", tensor.MaxAbsDiff(y1.Value(), y2.Value()) == 0)
	// Output:
	// opset 13 classes [cat dog fox]
	// pool2 [1 32 3 3] same logits: true
}

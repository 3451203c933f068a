package modelio_test

import (
	"fmt"
	"log"

	"github.com/arp-robustness/arp/modelio"
)

func ExampleOpen() {
	model, meta, err := modelio.Open("../onnx/testdata/cnn.onnx")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(meta.Kind, model.InputShape(), meta.NumClasses, meta.ClassName(0), meta.AttentionLayer)
	// Output: onnx [3 16 16] 5 a /act2/LeakyRelu_output_0
}

package viz_test

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"

	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/viz"
)

// A clean | map | mask panel for a tiny 28x28 gray image with a 7x7
// attention map, enlarged four times for display.
func Example() {
	const h, w, s = 28, 28, 4
	img := make([]float32, h*w) // a bright square "object"
	for i := 8; i < 20; i++ {
		for j := 8; j < 20; j++ {
			img[i*w+j] = 1
		}
	}
	coarse := make([]float32, 7*7)
	coarse[3*7+3], coarse[2*7+3] = 1, 0.5 // attention near the centre
	m := mask.ResizeBilinear(coarse, 7, 7, h, w)
	attended := mask.MeanThreshold(m, h, w)

	clean, err := viz.ToImage(img, 1, h, w)
	if err != nil {
		fmt.Println(err)
		return
	}
	over, err := viz.Overlay(img, 1, h, w, m, 0.7, viz.Jet)
	if err != nil {
		fmt.Println(err)
		return
	}
	outlined := viz.Outline(viz.Scale(clean, s), mask.Upsample(attended, h, w, s*h, s*w), viz.Yellow)
	panel := viz.Panel(
		viz.Captioned{Image: viz.Scale(clean, s), Caption: "clean"},
		viz.Captioned{Image: viz.Scale(over, s), Caption: "Grad-CAM"},
		viz.Captioned{Image: outlined, Caption: "mask"},
	)
	fmt.Println("panel size:", panel.Bounds().Size())

	b, err := viz.EncodePNG(panel)
	if err != nil {
		fmt.Println(err)
		return
	}
	uri := viz.DataURI(b) // for <img src="..."> in a report
	fmt.Println(strings.SplitAfter(uri, ",")[0])
	// Output:
	// panel size: (368,147)
	// data:image/png;base64,
}

func ExampleLinePlot() {
	eps := []float64{0, 0.1, 0.2, 0.3}
	plot := viz.LinePlot{
		Title: "Accuracy under FGSM", XLabel: "eps", YLabel: "accuracy",
		Series: []viz.Series{
			{Name: "adv", X: eps, Y: []float64{0.99, 0.93, 0.70, 0.40}},
			{Name: "arp", X: eps, Y: []float64{0.98, 0.95, 0.80, 0.55}},
		},
		YMin: 0, YMax: 1, Width: 480, Height: 320,
	}
	b, err := plot.PNG() // or plot.WritePNG("accuracy.png")
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Bounds().Size())
	// Output:
	// (480,320)
}

func ExampleJet() {
	fmt.Println(viz.Jet(0), viz.Jet(1))
	fmt.Println(viz.Viridis(0), viz.Viridis(1))
	// Output:
	// {0 0 128 255} {128 0 0 255}
	// {68 1 84 255} {253 231 37 255}
}

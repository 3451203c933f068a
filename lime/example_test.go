package lime_test

import (
	"context"
	"fmt"
	"math"

	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/lime/segment"
)

// A classifier that only looks at the top-left quadrant of an 8x8 gray
// image: LIME's top superpixel lies there.
func ExampleExplainImage() {
	const c, h, w = 1, 8, 8
	img := make([]float32, c*h*w)
	for p := range img {
		img[p] = 0.5 + 0.4*float32((p/w/4+p%w/4)%2) // four 4x4 blocks
	}
	classify := func(ctx context.Context, batch []float32, n int) ([][]float64, error) {
		out := make([][]float64, n)
		for i := 0; i < n; i++ {
			s := 0.0
			for y := 0; y < h/2; y++ {
				for x := 0; x < w/2; x++ {
					s += float64(batch[i*h*w+y*w+x])
				}
			}
			p := 1 / (1 + math.Exp(-10*(s/16-0.25)))
			out[i] = []float64{1 - p, p}
		}
		return out, nil
	}
	slic := segment.DefaultSLICOptions()
	slic.NumSegments = 4
	opts := lime.DefaultImageOptions()
	opts.Segmenter = lime.SLICSegmenter(slic)
	opts.HideColor = []float32{0}
	opts.NumSamples = 100
	opts.Seed = 1
	ex, err := lime.ExplainImage(context.Background(), img, c, h, w, classify, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	mask, _ := ex.Mask(1, 1) // the top positive superpixel
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask[y*w+x] {
				fmt.Print("#")
			} else {
				fmt.Print(".")
			}
		}
		fmt.Println()
	}
	fmt.Println("explained classes:", ex.Labels)
	// Output:
	// ####....
	// ####....
	// ####....
	// ####....
	// ........
	// ........
	// ........
	// ........
	// explained classes: [1 0]
}

// The core of LIME: a weighted ridge fit on interpretable features.
func ExampleFit() {
	data := [][]float64{{1, 1}, {1, 0}, {0, 1}, {0, 0}}
	y := []float64{0.8, 0.8, 0.1, 0.1} // driven by feature 0
	dist := make([]float64, len(data))
	for i, row := range data {
		dist[i] = lime.CosineDistance(row, data[0])
	}
	e, err := lime.Fit(data, y, lime.KernelWeights(dist, 0.25), lime.FitOptions{
		NumFeatures: 1, Selection: lime.SelectForward, Alpha: 0.001,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("feature %d weight %.2f\n", e.Features[0], e.Weights[0])
	// Output: feature 0 weight 0.70
}

func ExampleExplainText() {
	classify := func(ctx context.Context, texts []string) ([][]float64, error) {
		out := make([][]float64, len(texts))
		for i, s := range texts {
			p := 0.2
			if containsWord(s, "great") {
				p = 0.9
			}
			out[i] = []float64{1 - p, p}
		}
		return out, nil
	}
	opts := lime.DefaultTextOptions()
	opts.NumSamples = 300
	e, err := lime.ExplainText(context.Background(), "a great, fun film", classify, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	list, _ := e.List(1)
	fmt.Printf("%s %.1f\n", list[0].Name, list[0].Weight)
	// Output: great 0.7
}

func containsWord(s, word string) bool {
	start := -1
	for i, r := range s + " " {
		letter := r >= 'a' && r <= 'z'
		if letter && start < 0 {
			start = i
		}
		if !letter && start >= 0 {
			if s[start:i] == word {
				return true
			}
			start = -1
		}
	}
	return false
}

func ExampleTabularExplainer_Explain() {
	// Training data: x0 and x1 uniform on a grid over [0,1].
	var train [][]float64
	for i := 0; i < 20; i++ {
		for j := 0; j < 20; j++ {
			train = append(train, []float64{float64(i) / 19, float64(j) / 19})
		}
	}
	ex, err := lime.NewTabularExplainer(train, lime.TabularConfig{FeatureNames: []string{"age", "income"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	model := func(ctx context.Context, rows [][]float64) ([][]float64, error) {
		out := make([][]float64, len(rows))
		for i, r := range rows {
			out[i] = []float64{3 * r[1]} // a regressor that uses income only
		}
		return out, nil
	}
	opts := lime.DefaultTabularOptions()
	opts.NumSamples = 1000
	e, err := ex.Explain(context.Background(), []float64{0.5, 0.9}, model, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	list, _ := e.List(0)
	fmt.Printf("%s: %.1f\n", list[0].Name, list[0].Weight)
	// Output: income > 0.75: 1.6
}

package viz

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/arp-robustness/arp/mask"
)

// ring draws a synthetic 28x28 "digit": a thick ring, values in [0, 1].
func ring() []float32 {
	img := make([]float32, 28*28)
	for i := range 28 {
		for j := range 28 {
			d := math.Hypot(float64(i)-13.5, float64(j)-13.5)
			img[i*28+j] = float32(math.Max(0, 1-math.Abs(d-8)/3))
		}
	}
	return img
}

// blob is a coarse h x w map with a Gaussian bump at (r, c).
func blob(h, w int, r, c, s float64) []float32 {
	m := make([]float32, h*w)
	for i := range h {
		for j := range w {
			m[i*w+j] = float32(math.Exp(-((float64(i)-r)*(float64(i)-r) + (float64(j)-c)*(float64(j)-c)) / (2 * s * s)))
		}
	}
	return m
}

// TestWriteSamples writes example pictures and plots for a person to look
// at. It runs only when ARP_VIZ_SAMPLES names a directory.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("ARP_VIZ_SAMPLES")
	if dir == "" {
		t.Skip("set ARP_VIZ_SAMPLES=DIR to write sample pictures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const s = 4
	img := ring()
	adv := make([]float32, len(img))
	for i := range img {
		adv[i] = float32(math.Min(1, math.Max(0, float64(img[i])+0.15*math.Sin(float64(i)*1.7))))
	}
	cleanMap := mask.ResizeBilinear(blob(7, 7, 3, 2, 1.2), 7, 7, 28, 28)
	advMap := mask.ResizeBilinear(blob(7, 7, 5, 5, 0.8), 7, 7, 28, 28)
	gt := mask.Above(img, 0.3)
	cm := mask.MeanThreshold(cleanMap, 28, 28)
	am := mask.MeanThreshold(advMap, 28, 28)

	base, _ := ToImage(img, 1, 28, 28)
	advImg, _ := ToImage(adv, 1, 28, 28)
	co, _ := Overlay(img, 1, 28, 28, cleanMap, 0.7, Jet)
	ao, _ := Overlay(adv, 1, 28, 28, advMap, 0.7, Jet)
	up := func(m []bool) []bool { return mask.Upsample(m, 28, 28, 28*s, 28*s) }
	masks := Outline(Outline(Outline(Scale(base, s), up(gt), Green), up(cm), Yellow), up(am), Red)
	panel := Panel(
		Captioned{Scale(base, s), "clean (label 0)"},
		Captioned{Scale(advImg, s), "adversarial pred 6"},
		Captioned{Scale(co, s), "clean map"},
		Captioned{Scale(ao, s), "adv map"},
		Captioned{masks, "green object, yellow clean, red adv; IoU 0.00"},
	)
	write := func(name string) func([]byte, error) {
		return func(b []byte, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("panel.png")(EncodePNG(Title(panel, "FGSM eps 0.3: attack succeeded")))
	write("grid.png")(EncodePNG(Grid(2, panel, panel, panel)))
	rgb := make([]float32, 3*28*28)
	for i := range 28 * 28 {
		rgb[i], rgb[784+i], rgb[2*784+i] = img[i], float32(i%28)/27, float32(i/28)/27
	}
	ro, _ := Overlay(rgb, 3, 28, 28, cleanMap, 0.6, Viridis)
	strip := make([]float32, 256*16)
	for i := range strip {
		strip[i] = float32(i % 256)
	}
	big := DefaultLayout()
	big.TextScale = 2
	write("maps.png")(EncodePNG(big.Panel(
		Captioned{Scale(Heatmap(strip, 16, 256, Jet), 1), "jet"},
		Captioned{Heatmap(strip, 16, 256, Viridis), "viridis"},
		Captioned{Scale(ro, s), "RGB + viridis"},
		Captioned{Scale(Heatmap(cleanMap, 28, 28, Hot), s), "hot"},
	)))
	eps := []float64{0, 0.05, 0.1, 0.15, 0.2, 0.3}
	write("line.png")(LinePlot{Title: "Accuracy under FGSM", XLabel: "eps", YLabel: "accuracy",
		YMin: 0, YMax: 1, Series: []Series{
			{Name: "none", X: eps, Y: []float64{.99, .9, .6, .3, .1, .02}},
			{Name: "adv", X: eps, Y: []float64{.99, .97, .93, .85, .7, .4}},
			{Name: "arp", X: eps, Y: []float64{.98, .97, .95, .9, .8, .55}},
		}}.PNG())
	var a, b []float64
	for i := range 400 {
		a = append(a, 0.3+0.4*math.Abs(math.Sin(float64(i)*0.37)))
		b = append(b, 0.5+0.5*math.Abs(math.Sin(float64(i)*0.91))*math.Abs(math.Cos(float64(i)*0.13)))
	}
	write("hist.png")(Histogram{Title: "Coverage of the object by the clean attention", XLabel: "coverage",
		Groups: []Group{{"attack succeeded", a}, {"attack failed", b[:250]}}, Min: 0, Max: 1}.PNG())
	write("bars.png")(BarChart{Title: "Attack success by completeness", XLabel: "coverage bin", YLabel: "success rate",
		Categories: []string{"0-0.2", "0.2-0.4", "0.4-0.6", "0.6-0.8", "0.8-1"}, YMin: 0, YMax: 1,
		Groups: []Bars{
			{"adv", []float64{.8, .6, .5, .3, .2}, []float64{.7, .5, .42, .25, .1}, []float64{.9, .7, .58, .36, .3}},
			{"arp", []float64{.6, .5, math.NaN(), .2, .1}, []float64{.5, .4, 0, .15, .05}, []float64{.7, .6, 0, .26, .18}},
		}}.PNG())
}

func TestWriteCrowdedBars(t *testing.T) {
	dir := os.Getenv("ARP_VIZ_SAMPLES")
	if dir == "" {
		t.Skip("set ARP_VIZ_SAMPLES=DIR to write sample pictures")
	}
	var cats []string
	var g [3]Bars
	names := []string{"adversarial training (Step-LL)", "ARP (8,4,1)", "plain"}
	for i := range 10 {
		cats = append(cats, fmt.Sprintf("%.1f", float64(i)/10))
		for k := range g {
			v := 0.9 - 0.08*float64(i) - 0.1*float64(k)
			g[k].Name = names[k]
			g[k].Values = append(g[k].Values, math.Max(v, 0.05))
			g[k].Lo = append(g[k].Lo, math.Max(v, 0.05)-0.05)
			g[k].Hi = append(g[k].Hi, math.Max(v, 0.05)+0.05)
		}
	}
	b, err := BarChart{Title: "Success rate by coverage bin", XLabel: "coverage bin start", YLabel: "success rate",
		Categories: cats, Groups: g[:]}.PNG()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bars10.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

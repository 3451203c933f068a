package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/viz"
)

// writeTestImage writes image i of mnist-mini's test split as a gray PNG.
func writeTestImage(t *testing.T, i int) (string, int) {
	t.Helper()
	_, ds := attacktest.MNIST(t)
	img, err := viz.ToImage(ds.Image(i), ds.C, ds.H, ds.W)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "digit.png")
	if err := viz.WritePNG(p, img); err != nil {
		t.Fatal(err)
	}
	return p, ds.Labels[i]
}

func TestAttackCommand(t *testing.T) {
	run := attacktest.RunDir(t)
	in, label := writeTestImage(t, 0)
	out := filepath.Join(t.TempDir(), "adv.png")
	code, stdout, errs := arp(t, "attack", "--model", run, "--image", in, "--attack", "pgd:steps=20", "--eps", "0.2", "--out", out, "--label", strings.TrimSpace(string(rune('0'+label))))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"label: ", "given", "L-inf eps 0.2 on the [0,1] pixel scale (= 0.4 on the model's input scale)",
		"clean:", "adversarial:", "saved PNG:", "attack succeeded", "wrote " + out, "steps=20"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// the saved image is 8-bit gray, 28x28, and within the budget
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 28 || img.Bounds().Dy() != 28 {
		t.Fatalf("saved image: %v %v", err, img.Bounds())
	}
	_, ds := attacktest.MNIST(t)
	clean := ds.Image(0)
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
			if d := float64(g.Y)/255 - float64(clean[y*28+x]); d > 0.2+1e-6 || d < -0.2-1e-6 {
				t.Fatalf("pixel (%d,%d) moved %g > eps 0.2", x, y, d)
			}
		}
	}
	// without --label the clean prediction is the label; an unbounded CW needs no eps
	code, stdout, errs = arp(t, "attack", "--model", run, "--image", in, "--attack", "cw-l2:steps=20:binary-steps=2", "--out", out)
	if code != 0 || !strings.Contains(stdout, "the clean prediction (no --label given)") || !strings.Contains(stdout, "L2 eps 0 ") {
		t.Errorf("cw-l2: exit %d %s\n%s", code, errs, stdout)
	}
}

func TestAttackErrors(t *testing.T) {
	run := attacktest.RunDir(t)
	in, _ := writeTestImage(t, 1)
	dir := t.TempDir()
	small := filepath.Join(dir, "small.png")
	writePNG(t, small, image.NewGray(image.Rect(0, 0, 20, 20)))
	rgb := image.NewRGBA(image.Rect(0, 0, 28, 28))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
	}
	colour := filepath.Join(dir, "colour.png")
	writePNG(t, colour, rgb)
	text := filepath.Join(dir, "text.png")
	os.WriteFile(text, []byte("not an image"), 0o644)
	out := filepath.Join(dir, "adv.png")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", small, "--eps", "0.1", "--out", out}, "is 20x20 (height x width) but the model takes 28x28"},
		{[]string{"--image", colour, "--eps", "0.1", "--out", out}, "colour (RGB) image but the model takes 1-channel"},
		{[]string{"--image", text, "--eps", "0.1", "--out", out}, "not a PNG or JPEG"},
		{[]string{"--image", in, "--eps", "0.1", "--out", out, "--attack", "nope"}, `unknown attack "nope"`},
		{[]string{"--image", in, "--eps", "1.5", "--out", out}, "[0,1] pixel scale"},
		{[]string{"--image", in, "--eps", "-0.1", "--out", out}, "[0,1] pixel scale"},
		{[]string{"--image", in, "--out", out}, "--eps is required"},
		{[]string{"--image", in, "--eps", "0.1", "--out", filepath.Join(dir, "adv.jpg")}, "use a .png name"},
		{[]string{"--image", in, "--eps", "0.1", "--out", out, "--label", "eleven"}, "not a class index"},
		{[]string{"--image", filepath.Join(dir, "missing.png"), "--eps", "0.1", "--out", out}, "no such file"},
	} {
		args := append([]string{"attack", "--model", run}, c.args...)
		code, _, errs := arp(t, args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q", c.args, code, errs, c.want)
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

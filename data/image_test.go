package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func TestImageForModel(t *testing.T) {
	gray := &Image{Format: "png", H: 2, W: 2, Gray: true, Pix: []float32{0, 0.25, 0.5, 1}}
	rgb := &Image{Format: "png", H: 2, W: 2, Pix: make([]float32, 12)}
	cases := []struct {
		d       *Image
		c       int
		wantLen int
		err     string
	}{
		{gray, 1, 4, ""},
		{gray, 3, 12, ""},
		{rgb, 3, 12, ""},
		{rgb, 1, 0, "colour (RGB) image"},
		{gray, 4, 0, "4-channel images"},
	}
	for _, c := range cases {
		img, _, err := c.d.ForModel("x.png", c.c, 2, 2, false)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("c=%d: error %v, want %q", c.c, err, c.err)
			}
			continue
		}
		if err != nil || len(img) != c.wantLen {
			t.Errorf("c=%d: %d values, error %v", c.c, len(img), err)
		}
	}
	// an RGB file whose pixels are all gray counts as gray
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := 0; i < 6; i++ {
		v := uint8(40 * i)
		img.Set(i%3, i/3, color.RGBA{v, v, v, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	d, err := DecodeImage("g.png", b.Bytes())
	if err != nil || !d.Gray || d.H != 2 || d.W != 3 || len(d.Pix) != 6 || d.Pix[5] != 200.0/255 {
		t.Fatalf("decoded %+v, error %v", d, err)
	}
	// colour JPEGs of gray pictures count as gray, colourful ones do not
	for _, colourful := range []bool{false, true} {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for i := 0; i < 256; i++ {
			v := uint8(i)
			c := color.RGBA{v, v, v, 255}
			if colourful {
				c = color.RGBA{v, 255 - v, 60, 255}
			}
			img.Set(i%16, i/16, c)
		}
		b.Reset()
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		d, err := DecodeImage("g.jpg", b.Bytes())
		if err != nil || d.Gray == colourful {
			t.Fatalf("colourful %v: decoded as gray %v, error %v", colourful, d.Gray, err)
		}
	}
}

// FuzzDecodeImage: arbitrary bytes never panic the image reader.
func FuzzDecodeImage(f *testing.F) {
	for _, img := range []image.Image{image.NewGray(image.Rect(0, 0, 3, 2)), image.NewRGBA(image.Rect(0, 0, 2, 2)),
		image.NewGray16(image.Rect(0, 0, 1, 1)), image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.Black, color.White})} {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
		b.Reset()
		if err := jpeg.Encode(&b, img, nil); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xff, 0xd8, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeImage("fuzz", b)
		if err != nil {
			return
		}
		want := 3 * d.H * d.W
		if d.Gray {
			want = d.H * d.W
		}
		if len(d.Pix) != want {
			t.Fatalf("%d values for %dx%d (gray %v)", len(d.Pix), d.H, d.W, d.Gray)
		}
		for _, c := range []int{1, 3} {
			if img, _, err := d.ForModel("fuzz", c, 4, 4, true); err == nil && len(img) != c*16 {
				t.Fatalf("%d values for a %d-channel 4x4 image", len(img), c)
			}
		}
	})
}

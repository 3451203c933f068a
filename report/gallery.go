package report

import (
	"fmt"
	"html/template"
	"image"
	"image/color"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/viz"
)

// galleries shows stored examples per analysis and attack.
func galleries(cols []column, n int) *section {
	sec := &section{ID: "examples", Title: "Examples",
		Intro: []string{"Each row: clean image | adversarial image | clean attention | adversarial attention | masks (clean only blue, adversarial only red, both white; ground truth outlined in green). Captions: image index, true class → adversarial prediction (its probability), clean/adversarial IoU, coverage of the object by the clean attention.",
			"Each attention map is drawn over its image in the jet colours of the scale under it, from the map's smallest value (dark blue, no tint: the image shows through) to its largest (dark red, 60% tint); the tint grows with the value, and each map has its own scale, whose ends are written under it."}}
	for _, c := range cols {
		sec.Intro = append(sec.Intro, c.Label+": "+mapMeaning(c.A.Summary.Header)+".")
	}
	for _, c := range cols {
		h := c.A.Summary.Header
		for _, ai := range h.Attacks {
			for _, success := range []bool{true, false} {
				title := fmt.Sprintf("%s · %s · %s", c.Label, ai.Key, map[bool]string{true: "attack succeeded", false: "attack failed"}[success])
				b := &block{Title: title, FigureHead: []string{"clean", "adversarial", "clean attention", "adversarial attention", "masks"}}
				for _, r := range c.A.Records {
					if len(b.Figures) >= n {
						break
					}
					a := r.Attacks[ai.Key]
					if !r.Analysed() || a == nil || a.Success != success || r.Image == "" || a.Image == "" {
						continue
					}
					f, err := example(h, r, a)
					if err != nil {
						b.Text = append(b.Text, fmt.Sprintf("image %d: %v", r.Index, err))
						continue
					}
					b.Figures = append(b.Figures, f)
				}
				if len(b.Figures) == 0 && len(b.Text) == 0 {
					b.Text = append(b.Text, "no stored example (arp analyze --gallery keeps the first ones of each outcome)")
				}
				sec.Blocks = append(sec.Blocks, b)
			}
		}
	}
	return sec
}

// mapMeaning says what the values of an analysis's attention maps are.
func mapMeaning(h *analysis.Header) string {
	cells := fmt.Sprintf("%dx%d", h.MapH, h.MapW)
	if h.Layer != "" {
		cells += " cells of layer " + h.Layer
	}
	switch cfg := h.Config; {
	case h.Lime():
		return "map values are LIME weights: each pixel carries the coefficient of its superpixel in a linear model of the true class's probability fitted to the model's answers on images with superpixels hidden (positive: the superpixel supports the class)"
	case cfg.Method == "gradcam-arp":
		return "map values are the ARP Grad-CAM of the true class: a softmax over the " + cells + ", so a value is that cell's share of the attention and the map sums to 1 (uniform attention would be " + viz.FormatValue(1/float64(h.MapH*h.MapW)) + " everywhere), upsampled bilinearly to the image"
	case cfg.CAMScale == "min-max":
		return "map values are " + cfg.Method + " of the true class over the " + cells + ", after ReLU scaled from its minimum (0) to its maximum (1), upsampled bilinearly to the image"
	default:
		return "map values are " + cfg.Method + " of the true class over the " + cells + ", after ReLU divided by its maximum (0 to 1), upsampled bilinearly to the image"
	}
}

// example draws one gallery row.
func example(h *analysis.Header, r *analysis.Record, a *analysis.AttackRecord) (*figure, error) {
	C, H, W := h.Data.C, h.Data.H, h.Data.W
	clean, err := r.Image.Image(C * H * W)
	if err != nil {
		return nil, fmt.Errorf("clean image: %v", err)
	}
	adv, err := a.Image.Image(C * H * W)
	if err != nil {
		return nil, fmt.Errorf("adversarial image: %v", err)
	}
	if err := mask.CheckMap(r.Clean.Map, h.MapH, h.MapW); err != nil {
		return nil, fmt.Errorf("clean map: %v", err)
	}
	if err := mask.CheckMap(a.Adv.Map, h.MapH, h.MapW); err != nil {
		return nil, fmt.Errorf("adversarial map: %v", err)
	}
	var truth []bool
	if r.Truth != "" {
		if truth, err = r.Truth.Mask(H * W); err != nil {
			return nil, fmt.Errorf("ground truth: %v", err)
		}
	}
	s := max(1, 84/max(H, W))
	sH, sW := s*H, s*W
	up := func(m []bool) []bool { return mask.Upsample(m, H, W, sH, sW) }
	plain := func(img []float32) (image.Image, error) {
		im, err := viz.ToImage(img, C, H, W)
		if err != nil {
			return nil, err
		}
		return viz.Scale(im, s), nil
	}
	overlay := func(img []float32, m []float32) (image.Image, error) {
		um := h.Up(m)
		im, err := viz.Overlay(img, C, H, W, um, 0.6, viz.Jet)
		if err != nil {
			return nil, err
		}
		lo, hi := viz.MapRange(um)
		return viz.ColorBar(viz.Outline(viz.Scale(im, s), up(h.MeanMask(m)), viz.White), viz.Jet, lo, hi), nil
	}
	cm, am := h.MeanMask(r.Clean.Map), h.MeanMask(a.Adv.Map)
	comp := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := 0; i < H*W; i++ {
		c := color.RGBA{0, 0, 0, 255}
		switch {
		case cm[i] && am[i]:
			c = color.RGBA{255, 255, 255, 255}
		case cm[i]:
			c = color.RGBA{0, 114, 178, 255}
		case am[i]:
			c = color.RGBA{230, 25, 25, 255}
		}
		comp.SetRGBA(i%W, i/W, c)
	}
	var masks image.Image = viz.Scale(comp, s)
	if truth != nil {
		masks = viz.Outline(masks, up(truth), viz.Green)
	}
	f := &figure{Class: map[bool]string{true: "succeeded", false: "failed"}[a.Success]}
	steps := []struct {
		name string
		draw func() (image.Image, error)
	}{
		{"clean", func() (image.Image, error) { return plain(clean) }},
		{"adversarial", func() (image.Image, error) { return plain(adv) }},
		{"clean attention", func() (image.Image, error) { return overlay(clean, r.Clean.Map) }},
		{"adversarial attention", func() (image.Image, error) { return overlay(adv, a.Adv.Map) }},
		{"masks", func() (image.Image, error) { return masks, nil }},
	}
	for _, st := range steps {
		im, err := st.draw()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", st.name, err)
		}
		uri, err := viz.PNGDataURI(im)
		if err != nil {
			return nil, err
		}
		b := im.Bounds()
		f.Images = append(f.Images, &picture{Src: template.URL(uri), Alt: st.name, W: b.Dx(), H: b.Dy()})
	}
	name := func(k int) string {
		if k >= 0 && k < len(h.Data.Classes) {
			return h.Data.Classes[k]
		}
		return fmt.Sprint(k)
	}
	f.Caption = fmt.Sprintf("#%d: %s → %s (%.2f); IoU %s; coverage %s", r.Index, name(r.Label), name(a.Pred), a.ConfPred.F(),
		num(a.IoU.F(), 2), num(r.Clean.Coverage.F(), 2))
	return f, nil
}

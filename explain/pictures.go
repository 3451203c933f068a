package explain

import (
	"fmt"
	"image"
	"path/filepath"

	"github.com/arp-robustness/arp/limits"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/viz"
)

// MaxPictureSide bounds the side of the enlarged pictures, in pixels.
const MaxPictureSide = 2048

// autoPictureSide is the size small images are enlarged to by the
// automatic scale.
const autoPictureSide = 160

// PictureScale returns the factor WritePictures enlarges h x w images by:
// scale itself (1 or more), or for 0 the smallest one that makes them at
// least 160 pixels. It refuses a negative scale, and one that makes the
// pictures larger than MaxPictureSide or than the memory available.
func PictureScale(h, w, scale int) (int, error) {
	side := max(h, w, 1)
	if scale == 0 {
		return max(1, (autoPictureSide+side-1)/side), nil
	}
	if scale < 0 {
		return 0, fmt.Errorf("scale %d: want a positive factor (0: automatic)", scale)
	}
	if scale > MaxPictureSide/side {
		return 0, fmt.Errorf("scale %d would make %dx%d pictures of %dx%d pixels; at most %d per side (a scale of at most %d for this image size)",
			scale, h, w, limits.Need(1, h, scale), limits.Need(1, w, scale), MaxPictureSide, max(1, MaxPictureSide/side))
	}
	// about ten RGBA pictures of that size (overlays, panel, masks)
	if err := limits.Check("the pictures", limits.Need(40, h*scale, w*scale)); err != nil {
		return 0, err
	}
	return scale, nil
}

// WritePictures writes the overlays (overlay_clean.png, overlay_adv.png),
// each with its colour scale under it (viz.ColorBar: the map's smallest and
// largest values), and the side-by-side panel (panel.png) into dir,
// enlarged scale times, with the ground truth gt (H x W, nil: none)
// outlined, and returns their file names.
func (x *Explanation) WritePictures(dir string, gt []bool, scale int) ([]string, error) {
	e, clean, adv, names := &x.Explainer, x.Clean, x.Adversarial, x.Model.ClassNames
	H, W := e.H, e.W
	if scale < 1 || scale > MaxPictureSide/max(H, W, 1) {
		return nil, fmt.Errorf("pictures: scale %d outside [1,%d] (see PictureScale)", scale, MaxPictureSide/max(H, W, 1))
	}
	SH, SW := H*scale, W*scale
	up := func(m []bool) []bool { return mask.Upsample(m, H, W, SH, SW) }
	overlay := func(v *View) (*image.RGBA, error) {
		m := v.Up
		if v.LIME != nil {
			// show the superpixels that support the class; negative
			// weights would otherwise tint the whole image
			m = make([]float32, len(v.Up))
			for i, x := range v.Up {
				m[i] = max(x, 0)
			}
		}
		o, err := viz.Overlay(v.Img, e.C, H, W, m, 0.6, viz.Jet)
		if err != nil {
			return nil, err
		}
		lo, hi := viz.MapRange(m) // the colours' ends, which Overlay normalises away
		return viz.ColorBar(viz.Outline(viz.Scale(o, scale), up(v.Mask), viz.White), viz.Jet, lo, hi), nil
	}
	plain := func(v *View) (*image.RGBA, error) {
		im, err := viz.ToImage(v.Img, e.C, H, W)
		if err != nil {
			return nil, err
		}
		return viz.Scale(im, scale), nil
	}
	masked := func(v *View) (*image.RGBA, error) {
		im, err := plain(v)
		if err != nil {
			return nil, err
		}
		// dim the pixels outside the mask, then outline the mask (yellow)
		// and the ground truth (green)
		mu := up(v.Mask)
		for i, in := range mu {
			if !in {
				p := im.Pix[4*i : 4*i+3]
				for k := range p {
					p[k] = uint8(int(p[k]) * 2 / 5)
				}
			}
		}
		if gt != nil {
			im = viz.Outline(im, up(gt), viz.Green)
		}
		return viz.Outline(im, mu, viz.Yellow), nil
	}
	caption := func(what string, v *View) string {
		return fmt.Sprintf("%s: %s (%.0f%%)", what, names[v.Pred], 100*v.Probs[v.Pred])
	}
	var files []string
	var items []viz.Captioned
	views := []*View{clean}
	tags := []string{"clean"}
	if adv != nil {
		views = append(views, adv)
		tags = append(tags, "adv")
	}
	var imgs, maps, masks []viz.Captioned
	for i, v := range views {
		o, err := overlay(v)
		if err != nil {
			return nil, err
		}
		name := "overlay_" + tags[i] + ".png"
		if err := viz.WritePNG(filepath.Join(dir, name), o); err != nil {
			return nil, err
		}
		files = append(files, name)
		p, err := plain(v)
		if err != nil {
			return nil, err
		}
		mk, err := masked(v)
		if err != nil {
			return nil, err
		}
		what := "clean"
		if i == 1 {
			what = "adversarial"
		}
		imgs = append(imgs, viz.Captioned{Image: p, Caption: caption(what, v)})
		mapc := fmt.Sprintf("%s (class %s)", e.Method, names[e.Target])
		mc := fmt.Sprintf("%s mask: %d px", e.Mask.Method, mask.Count(v.Mask))
		if i == 1 {
			mapc = "adversarial map"
			mc = fmt.Sprintf("adv. mask: %d px, IoU %.2f", mask.Count(v.Mask), mask.IoU(clean.Mask, v.Mask))
		}
		maps = append(maps, viz.Captioned{Image: o, Caption: mapc})
		masks = append(masks, viz.Captioned{Image: mk, Caption: mc})
	}
	items = append(append(append(items, imgs...), maps...), masks...)
	name := "panel.png"
	if err := viz.WritePNG(filepath.Join(dir, name), viz.Panel(items...)); err != nil {
		return nil, err
	}
	return append(files, name), nil
}

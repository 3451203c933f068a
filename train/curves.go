package train

import (
	"fmt"
	"image"

	"github.com/arp-robustness/arp/viz"
)

// writeCurves draws the loss and accuracy curves of the metrics history
// side by side into a PNG (atomically).
func writeCurves(path string, history []map[string]any, rec Record) error {
	series := func(name, key string) viz.Series {
		s := viz.Series{Name: name}
		for _, h := range history {
			step, ok1 := h["step"].(float64)
			v, ok2 := h[key].(float64)
			if ok1 && ok2 {
				s.X = append(s.X, step)
				s.Y = append(s.Y, v)
			}
		}
		return s
	}
	nonEmpty := func(ss ...viz.Series) []viz.Series {
		var out []viz.Series
		for _, s := range ss {
			if len(s.X) > 0 {
				out = append(out, s)
			}
		}
		return out
	}
	title := fmt.Sprintf("%s, defense %s", rec.Arch, rec.Objective)
	loss := nonEmpty(series("training loss", "loss"))
	acc := nonEmpty(series("training accuracy", "train_acc"), series("held-out clean", "eval_clean_acc"),
		series(fmt.Sprintf("held-out Step-LL (eps %.3g)", rec.EvalEps), "eval_step_ll_acc"))
	if len(loss) == 0 && len(acc) == 0 {
		return nil
	}
	var imgs []image.Image
	for _, p := range []viz.LinePlot{
		{Title: title + ": loss", XLabel: "step", YLabel: "loss", Series: loss},
		{Title: title + ": accuracy", XLabel: "step", YLabel: "accuracy", Series: acc, YMin: 0, YMax: 1},
	} {
		if len(p.Series) == 0 {
			continue
		}
		// markers only on series with few points (viz.FewPoints)
		p.NoPoints = true
		img, err := p.Image()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		imgs = append(imgs, img)
	}
	return viz.WritePNG(path, viz.Grid(len(imgs), imgs...))
}

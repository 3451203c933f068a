package analysis

import (
	"context"
	"errors"
	"math"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/explain"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/tensor"
)

// stepPoint is the state of one image after one attack step.
type stepPoint struct {
	iou, iouTopK float64
	success      bool
	conf         float64
	components   int     // pieces of the mean-threshold mask
	linf         float64 // L-inf size of the perturbation
}

// trace replays an iterative attack step by step and measures every
// iterate (observation 3). Unlike the attack itself it does not stop at the
// first misclassified iterate: the question is what further steps do to the
// attention. Iter-LL and the gated attack take Step-LL steps towards the
// clean image's least-likely class (label smoothing 0.1), BIM steps up the
// loss of the true class; each step is projected to the eps-ball (unless
// the spec says project=false) and [0,1]. The gated attack freezes an
// image once its clean/adversarial IoU drops below the threshold (0.6 by
// default), as the attack does.
func (r *batchRunner) trace(ctx context.Context, sp *attack.Spec, x *tensor.Tensor, y []int, clean *explain.Maps, cleanMasks []masks, seeds []uint64) ([][]stepPoint, error) {
	n := len(y)
	per := x.Size() / n
	cfg := sp.Config
	t := make([]int, n)
	dir := float32(-1)
	smoothing := 0.1
	if sp.Name == "bim" {
		copy(t, y)
		dir, smoothing = 1, 0
	} else {
		for i, p := range clean.Probs {
			ll := 0
			for k, v := range p {
				if v < p[ll] {
					ll = k
				}
			}
			t[i] = ll
		}
	}
	if cfg.Smoothing != nil {
		smoothing = *cfg.Smoothing
	}
	threshold := cfg.Threshold
	if threshold == 0 {
		threshold = 0.6
	}
	gated := sp.Name == "gated-step-ll"
	eps, alpha := float32(cfg.Eps), float32(cfg.Alpha)
	x0 := x.F32()
	xt := x.Clone()
	cur := xt.F32()
	active := make([]bool, n)
	for i := range active {
		active[i] = true
	}
	out := make([][]stepPoint, n)
	for s := 0; s < cfg.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var idx []int
		for i, a := range active {
			if a {
				idx = append(idx, i)
			}
		}
		if len(idx) > 0 {
			tt := make([]int, len(idx))
			for j, i := range idx {
				tt[j] = t[i]
			}
			_, g, err := attack.LossGrad(r.s.Model, rows(xt, idx), tt, smoothing)
			switch {
			case errors.Is(err, attack.ErrNoGradient):
				// No usable gradient anywhere: the iterate stays put.
			case err != nil:
				return nil, err
			default:
				gv := g.AsType(tensor.Float32).F32()
				for j, i := range idx {
					for p := 0; p < per; p++ {
						q := i*per + p
						v := cur[q]
						switch gp := gv[j*per+p]; {
						case gp > 0:
							v += dir * alpha
						case gp < 0:
							v -= dir * alpha
						}
						if !cfg.Unprojected {
							v = min(max(v, x0[q]-eps), x0[q]+eps)
						}
						cur[q] = min(max(v, 0), 1)
					}
				}
			}
		}
		m, err := r.mp.maps(ctx, xt, y, seeds)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if !active[i] {
				// A frozen image keeps its last state.
				out[i] = append(out[i], out[i][len(out[i])-1])
				continue
			}
			mean := mask.MeanThreshold(m.Up[i], r.h.Data.H, r.h.Data.W)
			top := r.h.TopKMask(m.Coarse[i])
			linf := 0.0
			for q := i * per; q < (i+1)*per; q++ {
				linf = max(linf, math.Abs(float64(cur[q]-x0[q])))
			}
			p := stepPoint{iou: mask.IoU(cleanMasks[i].mean, mean), iouTopK: mask.IoU(cleanMasks[i].topk, top),
				success: m.Pred[i] != y[i], conf: m.Probs[i][y[i]],
				components: mask.Scatter(mean, r.h.Data.H, r.h.Data.W, mask.Eight).Components, linf: linf}
			out[i] = append(out[i], p)
			if gated && p.iou < threshold {
				active[i] = false
			}
		}
	}
	return out, nil
}

// Package bench times the engine on the workloads that matter for arp —
// inference, a training step, Step-LL example generation, the full ARP
// training step with double backpropagation, PGD-10 evaluation and the
// Grad-CAM maps of a batch — the same way
// scripts/bench/torch_bench.py times PyTorch, so the two can be compared
// side by side (scripts/bench/compare.py).
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// Config selects what is timed.
type Config struct {
	Arch    string   // model architecture (default cifarnet)
	LRN     bool     // CifarNet's local response normalisation (the PyTorch reference omits it by default)
	Batch   int      // default 50
	Steps   int      // timed repetitions (default 10)
	Warmup  int      // untimed repetitions first (default 3)
	Threads int      // cores to use (default 2)
	Cases   []string // subset of Cases(); default all
	Seed    uint64
	// Model, if set, is timed instead of Arch: a loaded classifier such as
	// an imported ONNX graph (Arch then only names it in the results). It
	// takes pixels in [0,1]; only the cases that need no arp training
	// (InferenceCases) apply.
	Model nn.Classifier
}

// InferenceCases are the cases that run on any classifier (no training);
// gradcam needs the classifier to name its attention layer.
func InferenceCases() []string { return []string{"forward", "stepll", "pgd10", "gradcam"} }

// Result is one timed case.
type Result struct {
	Name         string  `json:"name"`
	Arch         string  `json:"arch"`
	Batch        int     `json:"batch"`
	MedianMS     float64 `json:"median_ms"`
	MinMS        float64 `json:"min_ms"`
	ImagesPerS   float64 `json:"images_per_s"`
	GFLOPS       float64 `json:"gflops,omitempty"`
	AllocsPerOp  float64 `json:"allocs_per_step"`
	AllocMBPerOp float64 `json:"alloc_mb_per_step"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	Threads      int     `json:"threads"`
	LRN          bool    `json:"lrn"`
	BLAS         string  `json:"blas"`
}

// Cases lists the workloads.
func Cases() []string { return []string{"forward", "train", "stepll", "arp", "pgd10", "gradcam"} }

// Step is one repetition of a case.
type Step func() error

// ARPStepFunc builds the full ARP training step for a model; package
// defense provides it (set by the caller to avoid an import cycle in tests).
type ARPStepFunc func(m *nn.Model, opt optim.Optimizer, x *tensor.Tensor, y []int, seed uint64) (Step, error)

func (c *Config) defaults() {
	if c.Arch == "" {
		c.Arch = "cifarnet"
	}
	if c.Batch <= 0 {
		c.Batch = 50
	}
	if c.Steps <= 0 {
		c.Steps = 10
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Threads <= 0 {
		c.Threads = 2
	}
	if len(c.Cases) == 0 {
		c.Cases = Cases()
		if c.Model != nil {
			c.Cases = InferenceCases()
			if nn.DefaultAttentionLayer(c.Model) == "" {
				c.Cases = c.Cases[:len(c.Cases)-1] // no gradcam
			}
		}
	}
}

// Run times the cases; arpStep may be nil when the "arp" case is not asked for.
func Run(ctx context.Context, cfg Config, arpStep ARPStepFunc, progress func(Result)) ([]Result, error) {
	cfg.defaults()
	for _, c := range cfg.Cases {
		if !contains(Cases(), c) {
			return nil, fmt.Errorf("unknown bench case %q; known: %s", c, strings.Join(Cases(), ", "))
		}
	}
	if cfg.Model != nil {
		for _, c := range cfg.Cases {
			if !contains(InferenceCases(), c) {
				return nil, fmt.Errorf("bench case %q trains an arp architecture; a loaded model runs %s", c, strings.Join(InferenceCases(), ", "))
			}
		}
	}
	runtime.GOMAXPROCS(cfg.Threads)
	tensor.SetWorkers(cfg.Threads)
	in := []int{3, 32, 32}
	if strings.HasPrefix(cfg.Arch, "mnist") {
		in = []int{1, 28, 28}
	}
	classes := 10
	var m *nn.Model
	var c nn.Classifier = cfg.Model
	if c != nil {
		in, classes = c.InputShape(), c.NumClasses()
	} else {
		spec, err := nn.DefaultSpec(cfg.Arch, in[0], in[1], in[2], 10)
		if err != nil {
			return nil, err
		}
		spec.LRN = cfg.LRN && strings.HasPrefix(cfg.Arch, "cifarnet")
		if m, err = nn.Build(spec, cfg.Seed); err != nil {
			return nil, err
		}
		c = m
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 99))
	x := tensor.Zeros(tensor.Float32, cfg.Batch, in[0], in[1], in[2])
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	y := make([]int, cfg.Batch)
	for i := range y {
		y[i] = rng.IntN(classes)
	}
	var params []*autograd.Var
	var opt *optim.Adam
	var flops float64
	if m != nil {
		var wd []float64
		params, wd = m.Trainable()
		opt = optim.NewAdam(params, 1e-4)
		opt.WeightDecay = wd
		flops = ForwardFLOPs(m, cfg.Batch)
	}
	var out []Result
	for _, name := range cfg.Cases {
		var step Step
		gf := 0.0
		switch name {
		case "forward":
			xv := autograd.Const(x)
			step = func() error {
				return autograd.Try(func() { autograd.NoGrad(func() { c.Forward(xv, nn.Eval) }) })
			}
			gf = flops
		case "train":
			mode := nn.Mode{Train: true, Rng: rand.New(rand.NewPCG(cfg.Seed, 5))}
			step = func() error {
				var err error
				a := autograd.OpenArena() // as the training loop's steps
				defer a.Close()
				terr := autograd.Try(func() {
					logits, _ := m.Forward(autograd.Const(x), mode)
					loss := autograd.CrossEntropy(logits, y, 0)
					g, e := autograd.Grad([]*autograd.Var{loss}, nil, params, false)
					if e != nil {
						err = e
						return
					}
					err = opt.Step(g)
				})
				if terr != nil {
					return terr
				}
				return err
			}
			gf = 3 * flops
		case "stepll":
			a := attack.NewStepLL(0.075)
			step = func() error {
				_, err := a.Perturb(ctx, c, x, y)
				return err
			}
		case "pgd10":
			// PGD-10 evaluation of a batch: random start, 10 steps, eps
			// 8/255, every image taking every step, and the forward pass
			// that judges the final iterate
			a := &attack.PGD{Base: attack.Base{Eps: 8.0 / 255, Seed: cfg.Seed}, Steps: 10, FinalIterate: true}
			step = func() error {
				xa, err := a.Perturb(ctx, c, x, y)
				if err != nil {
					return err
				}
				return autograd.Try(func() { autograd.NoGrad(func() { c.Forward(autograd.Const(xa), nn.Eval) }) })
			}
		case "gradcam":
			// what arp explain and the attention study compute for a batch:
			// gradcam-arp maps of the predicted classes at the attention
			// layer, at its resolution and resized to the input's, with the
			// softmax probabilities
			if nn.DefaultAttentionLayer(c) == "" {
				return nil, fmt.Errorf("bench case gradcam: the model names no attention layer")
			}
			step = func() error {
				_, err := attention.Maps(c, x, nil, attention.Options{})
				return err
			}
		case "arp":
			if arpStep == nil {
				return nil, fmt.Errorf("bench: the arp case needs the ARP training step")
			}
			var err error
			if step, err = arpStep(m, opt, x, y, cfg.Seed); err != nil {
				return nil, err
			}
		}
		r, err := timeIt(ctx, name, cfg, step)
		if err != nil {
			return out, fmt.Errorf("bench %s: %w", name, err)
		}
		if gf > 0 {
			r.GFLOPS = gf / (r.MedianMS / 1000) / 1e9
		}
		r.Arch = cfg.Arch
		out = append(out, r)
		if progress != nil {
			progress(r)
		}
	}
	return out, nil
}

func timeIt(ctx context.Context, name string, cfg Config, step Step) (Result, error) {
	for i := 0; i < cfg.Warmup; i++ {
		if err := step(); err != nil {
			return Result{}, err
		}
	}
	var ms0, ms1 runtime.MemStats
	times := make([]float64, 0, cfg.Steps)
	runtime.ReadMemStats(&ms0)
	for i := 0; i < cfg.Steps; i++ {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		t0 := time.Now()
		if err := step(); err != nil {
			return Result{}, err
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	runtime.ReadMemStats(&ms1)
	sort.Float64s(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	n := float64(cfg.Steps)
	return Result{
		Name:         name,
		Batch:        cfg.Batch,
		MedianMS:     med,
		MinMS:        times[0],
		ImagesPerS:   float64(cfg.Batch) / (med / 1000),
		AllocsPerOp:  float64(ms1.Mallocs-ms0.Mallocs) / n,
		AllocMBPerOp: float64(ms1.TotalAlloc-ms0.TotalAlloc) / n / (1 << 20),
		PeakRSSMB:    PeakRSSMB(),
		Threads:      cfg.Threads,
		LRN:          cfg.LRN,
		BLAS:         tensor.GemmInfo(),
	}, nil
}

// ForwardFLOPs counts the multiply-adds (x2) of the model's convolutions and
// dense layers for one forward pass of a batch.
func ForwardFLOPs(m *nn.Model, batch int) float64 {
	in := m.InputShape()
	x := autograd.Const(tensor.Zeros(tensor.Float32, 1, in[0], in[1], in[2]))
	var total float64
	layers := m.LayerNames()
	_, acts := m.Forward(x, nn.Eval, layers...)
	shapes := map[string][]int{}
	for k, v := range acts {
		shapes[k] = v.Shape()
	}
	for _, p := range m.Params() {
		if p.Buffer || !strings.HasSuffix(p.Name, ".weight") {
			continue
		}
		layer := strings.TrimSuffix(p.Name, ".weight")
		ws := p.Var.Shape()
		out, ok := shapes[layer]
		if !ok {
			continue
		}
		switch len(ws) {
		case 4: // conv: F*C*KH*KW per output position
			total += float64(ws[1]*ws[2]*ws[3]) * float64(tensor.Numel(out))
		case 2:
			total += float64(ws[0] * ws[1])
		}
	}
	return 2 * total * float64(batch)
}

// PeakRSSMB reads the process's peak resident set size (Linux VmHWM).
func PeakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

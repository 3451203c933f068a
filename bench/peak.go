package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/kernels"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// PeakConfig selects what `arp bench --peak` measures.
type PeakConfig struct {
	Arch    string         // model whose layers are timed (default cifarnet)
	Batch   int            // default 50
	Threads int            // default 2
	Paths   []kernels.Path // kernel paths to measure (default: every supported one)
	// GEMMSizes are the square GEMMs timed besides the layers (default 512,
	// 1024, 2048).
	GEMMSizes []int
	// MinTime is how long each operation is repeated at least (default
	// 300ms, at least 3 repetitions after one warm-up).
	MinTime time.Duration
	Seed    uint64
}

// PeakRow is one timed operation.
type PeakRow struct {
	Path  string  `json:"path"`
	Layer string  `json:"layer"`
	Op    string  `json:"op"`
	Shape string  `json:"shape"`
	GFLOP float64 `json:"gflop"`
	MS    float64 `json:"median_ms"`
	MinMS float64 `json:"min_ms"`
	// GFLOPS is the rate of the fastest repetition (MinMS): like the
	// peak, what the cores do when they run this code uninterrupted.
	GFLOPS float64 `json:"gflops"`
	// Share is GFLOPS over the path's measured FMA peak (0 for the Go path,
	// which has none).
	Share float64 `json:"share_of_peak"`
}

// PeakPath is the FMA peak of one kernel path and its operations.
type PeakPath struct {
	Path       string  `json:"path"`
	PeakGFLOPS float64 `json:"peak_gflops"`
	// ClockGHz and FMAPerCycle are the threads' clock rate and vector
	// FMAs per cycle per thread measured with the peak (kernels.Peak).
	ClockGHz    float64   `json:"clock_ghz,omitempty"`
	FMAPerCycle float64   `json:"fma_per_cycle,omitempty"`
	Threads     int       `json:"threads"`
	Rows        []PeakRow `json:"rows"`
}

func (c *PeakConfig) defaults() {
	if c.Arch == "" {
		c.Arch = "cifarnet"
	}
	if c.Batch <= 0 {
		c.Batch = 50
	}
	if c.Threads <= 0 {
		c.Threads = 2
	}
	if len(c.Paths) == 0 {
		for _, p := range []kernels.Path{kernels.AVX512, kernels.AVX2, kernels.Go} {
			if kernels.Supported(p) {
				c.Paths = append(c.Paths, p)
			}
		}
	}
	if len(c.GEMMSizes) == 0 {
		c.GEMMSizes = []int{512, 1024, 2048}
	}
	if c.MinTime <= 0 {
		c.MinTime = 300 * time.Millisecond
	}
}

// peakOp is one operation to time: run computes it once.
type peakOp struct {
	layer, op, shape string
	flops            float64
	run              func()
}

// Peak measures, for each kernel path, the FMA peak (kernels.Peak: 12
// independent chains of vector FMAs per thread on Threads threads, each
// thread's uninterrupted rate) and the throughput of the model's
// convolution and dense layers (forward, input gradient, weight gradient)
// and of square GEMMs in their fastest repetition, each as a share of
// that peak. The path in use is restored afterwards.
func Peak(ctx context.Context, cfg PeakConfig, progress func(PeakPath)) ([]PeakPath, error) {
	cfg.defaults()
	runtime.GOMAXPROCS(cfg.Threads)
	tensor.SetWorkers(cfg.Threads)
	ops, err := peakOps(cfg)
	if err != nil {
		return nil, err
	}
	prev := kernels.Current()
	defer kernels.Use(prev)
	var out []PeakPath
	for _, p := range cfg.Paths {
		if err := kernels.Use(p); err != nil {
			return out, err
		}
		pp := PeakPath{Path: p.String(), Threads: cfg.Threads}
		if p != kernels.Go {
			g, err := kernels.Peak(p, cfg.Threads, cfg.MinTime)
			if err != nil {
				return out, err
			}
			pp.PeakGFLOPS, pp.ClockGHz, pp.FMAPerCycle = g.GFLOPS, g.GHz, g.FMAPerCycle
		}
		for _, op := range ops {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			ms, minMS := timeOp(op.run, cfg.MinTime)
			r := PeakRow{Path: pp.Path, Layer: op.layer, Op: op.op, Shape: op.shape, GFLOP: op.flops / 1e9, MS: ms, MinMS: minMS}
			r.GFLOPS = op.flops / (minMS / 1000) / 1e9
			if pp.PeakGFLOPS > 0 {
				r.Share = r.GFLOPS / pp.PeakGFLOPS
			}
			pp.Rows = append(pp.Rows, r)
		}
		out = append(out, pp)
		if progress != nil {
			progress(pp)
		}
	}
	return out, nil
}

// timeOp returns the median and the fastest time in ms of run over at
// least minTime and 3 repetitions, after warming up for a third of minTime (at least one run):
// an operation's first runs in a process also time the growth of the Go
// heap to its working size (fresh pages faulted in, collections at a small
// heap goal), which made the first operation measured, conv1's forward
// pass, 10 times slower than it runs afterwards.
func timeOp(run func(), minTime time.Duration) (median, fastest float64) {
	for warm := time.Now(); ; {
		run()
		if time.Since(warm) >= minTime/3 {
			break
		}
	}
	var times []float64
	start := time.Now()
	for len(times) < 3 || time.Since(start) < minTime {
		t0 := time.Now()
		run()
		times = append(times, float64(time.Since(t0).Nanoseconds())/1e6)
	}
	sort.Float64s(times)
	return times[len(times)/2], times[0]
}

// peakOps lists the operations: every convolution and dense layer of the
// model at the batch size, then the square GEMMs.
func peakOps(cfg PeakConfig) ([]peakOp, error) {
	in := []int{3, 32, 32}
	if strings.HasPrefix(cfg.Arch, "mnist") {
		in = []int{1, 28, 28}
	}
	spec, err := nn.DefaultSpec(cfg.Arch, in[0], in[1], in[2], 10)
	if err != nil {
		return nil, err
	}
	m, err := nn.Build(spec, cfg.Seed)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	randn := func(shape ...int) *tensor.Tensor {
		t := tensor.Zeros(tensor.Float32, shape...)
		for i := 0; i < t.Size(); i++ {
			t.SetFlat(i, rng.NormFloat64())
		}
		return t
	}
	// the input shape of every layer, from a forward pass of one image
	names := m.LayerNames()
	_, acts := m.Forward(autograd.Const(tensor.Zeros(tensor.Float32, 1, in[0], in[1], in[2])), nn.Eval, names...)
	prev := []int{1, in[0], in[1], in[2]}
	var ops []peakOp
	b := cfg.Batch
	for _, l := range m.Layers() {
		xs := append([]int{b}, prev[1:]...)
		prev = acts[l.Name()].Shape()
		switch l := l.(type) {
		case *nn.Conv2d:
			w := l.W.Value()
			ws := w.Shape()
			p := l.Window(xs[2], xs[3])
			x, bias := randn(xs...), randn(ws[0])
			y := tensor.Conv2dBias(x, w, bias, p)
			gy := randn(y.Shape()...)
			flops := 2 * float64(tensor.Numel(y.Shape())) * float64(ws[1]*ws[2]*ws[3])
			shape := fmt.Sprintf("%v * %v", xs, ws)
			ops = append(ops,
				peakOp{l.Name(), "forward", shape, flops, recycled(func() *tensor.Tensor { return tensor.Conv2dBias(x, w, bias, p) })},
				peakOp{l.Name(), "input grad", shape, flops, recycled(func() *tensor.Tensor { return tensor.Conv2dInputGrad(gy, w, xs, p) })},
				peakOp{l.Name(), "weight grad", shape, flops, recycled(func() *tensor.Tensor { return tensor.Conv2dWeightGrad(x, gy, ws, p) })},
			)
			ops = append(ops, perImageOps(l.Name(), shape, flops, x, w, bias, gy, p)...)
		case *nn.Dense:
			w := l.W.Value()
			ws := w.Shape() // [out, in]
			x := randn(b, ws[1])
			gy := randn(b, ws[0])
			flops := 2 * float64(b*ws[0]*ws[1])
			shape := fmt.Sprintf("[%d %d] * %v", b, ws[1], ws)
			ops = append(ops,
				peakOp{l.Name(), "forward", shape, flops, recycled(func() *tensor.Tensor { return tensor.MatMul(x, w, false, true) })},
				peakOp{l.Name(), "input grad", shape, flops, recycled(func() *tensor.Tensor { return tensor.MatMul(gy, w, false, false) })},
				peakOp{l.Name(), "weight grad", shape, flops, recycled(func() *tensor.Tensor { return tensor.MatMul(gy, x, true, false) })},
			)
		}
	}
	for _, n := range cfg.GEMMSizes {
		a, bm := randn(n, n), randn(n, n)
		ops = append(ops, peakOp{"gemm", "C = A B", fmt.Sprintf("%d^3", n), 2 * float64(n) * float64(n) * float64(n),
			recycled(func() *tensor.Tensor { return tensor.MatMul(a, bm, false, false) })})
	}
	return ops, nil
}

// recycled runs op inside an arena and gives its result's storage back,
// as the engine's steps run every operation (autograd adopts each result
// of a step's arena): the result takes recycled storage instead of fresh,
// runtime-zeroed memory, which for the batch's products (conv1's forward
// output is 13 MB, a 2048^3 GEMM's 16 MB) cost as much as a third of the
// time measured without it.
func recycled(op func() *tensor.Tensor) func() {
	return func() {
		a := tensor.OpenArena()
		tensor.Adopt(op())
		a.Close()
	}
}

// perImageOps are a convolution's three products one image at a time, as
// the models' fused convolution+ReLU+pool ops run them
// (kernels.ConvForwardEach, ConvBackwardEach): each image's output is
// consumed, and its output gradient made, while it is in the core's cache,
// instead of the whole batch's going through memory. Here the consumer
// does nothing and the output gradient is copied from one image's (in
// cache), so the rows time the convolutions alone (the pooling is not in
// them). float32 only.
func perImageOps(layer, shape string, flops float64, x, w, bias, gy *tensor.Tensor, p tensor.Conv2dParams) []peakOp {
	xv, wv, bv, gv := x.F32(), w.F32(), bias.F32(), gy.F32()
	if xv == nil || wv == nil || bv == nil || gv == nil {
		return nil
	}
	xs, ws, ys := x.Shape(), w.Shape(), gy.Shape()
	one := func(v int) int { return max(v, 1) }
	g := kernels.ConvGeom{N: xs[0], C: xs[1], H: xs[2], W: xs[3], F: ws[0], KH: ws[2], KW: ws[3], OH: ys[2], OW: ys[3],
		SH: one(p.StrideH), SW: one(p.StrideW), PT: p.PadTop, PB: p.PadBottom, PL: p.PadLeft, PR: p.PadRight,
		DH: one(p.DilationH), DW: one(p.DilationW)}
	if g.Check() != nil {
		return nil
	}
	fo := g.F * g.OH * g.OW
	gy0 := gv[:fo]
	gyOf := func(_ int, buf []float32) []float32 { copy(buf, gy0); return buf }
	dx, dw := make([]float32, len(xv)), make([]float32, len(wv))
	return []peakOp{
		{layer, "forward, per image", shape, flops, func() {
			kernels.ConvForwardEach(g, xv, wv, bv, true, func(int, []float32) {})
		}},
		{layer, "input grad, per image", shape, flops, func() { kernels.ConvBackwardEach(g, xv, wv, gyOf, dx, nil) }},
		{layer, "weight grad, per image", shape, flops, func() { kernels.ConvBackwardEach(g, xv, wv, gyOf, nil, dw) }},
	}
}

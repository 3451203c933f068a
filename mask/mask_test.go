package mask

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// parse reads a mask written as rows of 0/1 separated by '/'.
func parse(s string) []bool {
	var out []bool
	for _, r := range strings.ReplaceAll(s, "/", "") {
		out = append(out, r == '1')
	}
	return out
}

// format writes a mask of width w as rows of 0/1 separated by '/'.
func format(m []bool, w int) string {
	var b strings.Builder
	for i, v := range m {
		if i > 0 && i%w == 0 {
			b.WriteByte('/')
		}
		if v {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

var nan = float32(math.NaN())

func TestThresholds(t *testing.T) {
	tests := []struct {
		name string
		got  []bool
		w    int
		want string
	}{
		{"mean", MeanThreshold([]float32{1, 2, 3, 4}, 2, 2), 2, "00/11"},
		{"mean constant", MeanThreshold([]float32{5, 5, 5, 5}, 2, 2), 2, "00/00"},
		{"mean ignores NaN", MeanThreshold([]float32{nan, 1, 3}, 1, 3), 3, "001"},
		{"mean all NaN", MeanThreshold([]float32{nan, nan}, 1, 2), 2, "00"},
		{"mean softmax-like", MeanThreshold([]float32{.1, .1, .5, .3}, 2, 2), 2, "00/11"},
		{"topk", TopK([]float32{3, 9, 1, 7}, 2, 2, 2), 2, "01/01"},
		{"topk ties by index", TopK([]float32{1, 1, 1, 1}, 2, 2, 2), 2, "11/00"},
		{"topk ties later", TopK([]float32{0, 5, 5, 1}, 2, 2, 1), 2, "01/00"},
		{"topk k>n", TopK([]float32{0, 5, 5, 1}, 2, 2, 9), 2, "11/11"},
		{"topk k<0", TopK([]float32{0, 5, 5, 1}, 2, 2, -1), 2, "00/00"},
		{"topk NaN last", TopK([]float32{nan, -3}, 1, 2, 1), 2, "01"},
		{"area", AreaMatched([]float32{.2, .9, .4, .9, .1, .3}, 3), 3, "011/100"},
		{"area ties", AreaMatched([]float32{.2, .9, .3, .9, .1, .3}, 3), 3, "011/100"},
		{"fraction", FractionOfMax([]float32{0, 5, 10, 4.99}, .5), 4, "0110"},
		{"fraction one", FractionOfMax([]float32{1, 2, 2}, 1), 3, "011"},
		{"fraction empty", FractionOfMax(nil, .5), 1, ""},
		{"fraction all NaN", FractionOfMax([]float32{nan}, .5), 1, "0"},
		{"above", Above([]float32{0, .5, .51, 1}, .5), 4, "0011"},
		{"upsample x2", Upsample(parse("10/01"), 2, 2, 4, 4), 4, "1100/1100/0011/0011"},
		{"upsample 2->3", Upsample(parse("10/01"), 2, 2, 3, 3), 3, "100/011/011"},
		{"upsample 1x3->2x2", Upsample(parse("101"), 1, 3, 2, 2), 2, "11/11"},
		{"downsample 3->2", Upsample(parse("100/010/001"), 3, 3, 2, 2), 2, "10/01"},
		{"upsample to empty", Upsample(parse("1"), 1, 1, 0, 3), 3, ""},
	}
	for _, tt := range tests {
		if got := format(tt.got, tt.w); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestTopKUpsampledSevenOfSixtyFour(t *testing.T) {
	// The paper's setting: top 7 of an 8x8 map, upsampled to 32x32.
	m := make([]float32, 64)
	for i := range m {
		m[i] = float32(i % 10) // many ties
	}
	k := TopK(m, 8, 8, 7)
	if n := Count(k); n != 7 {
		t.Fatalf("TopK set %d cells, want 7", n)
	}
	up := Upsample(k, 8, 8, 32, 32)
	if n := Count(up); n != 7*16 {
		t.Fatalf("upsampled mask has %d pixels, want %d", n, 7*16)
	}
	for Y := range 32 {
		for X := range 32 {
			if up[Y*32+X] != k[(Y/4)*8+X/4] {
				t.Fatalf("pixel (%d,%d) does not match its cell", Y, X)
			}
		}
	}
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func TestIoUCoverage(t *testing.T) {
	tests := []struct {
		a, b          string
		iou, coverage float64 // coverage of b by a
	}{
		{"0000", "0000", 1, math.NaN()},
		{"1100", "0000", 0, math.NaN()},
		{"0000", "1100", 0, 0},
		{"1100", "0011", 0, 0},
		{"1100", "1100", 1, 1},
		{"1100", "0110", 1. / 3, .5},
		{"1111", "0110", .5, 1},
		{"0110", "1111", .5, .5},
		{"1", "1", 1, 1},
		{"", "", 1, math.NaN()},
	}
	for _, tt := range tests {
		a, b := parse(tt.a), parse(tt.b)
		if got := IoU(a, b); !near(got, tt.iou) {
			t.Errorf("IoU(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.iou)
		}
		if got := IoU(b, a); !near(got, tt.iou) {
			t.Errorf("IoU(%s, %s) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.iou)
		}
		if got := Coverage(a, b); !near(got, tt.coverage) {
			t.Errorf("Coverage(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.coverage)
		}
	}
}

func TestPointingGame(t *testing.T) {
	// 4x5 map with its maximum at row 1, column 1.
	m := []float32{
		0, 1, 0, 0, 0,
		1, 9, 1, 0, 0,
		0, 1, 0, 0, 0,
		0, 0, 0, 0, 0,
	}
	tests := []struct {
		name string
		g    string
		tol  float64
		want bool
	}{
		{"inside", "00000/01000/00000/00000", 0, true},
		{"empty", "00000/00000/00000/00000", 5, false},
		{"two away, no tol", "00010/00000/00000/00000", 0, false},
		{"two right, tol 2", "00000/00010/00000/00000", 2, true},
		{"two right, tol 1.9", "00000/00010/00000/00000", 1.9, false},
		{"diagonal, tol 1", "00000/00000/00100/00000", 1, false},
		{"diagonal, tol 1.5", "00000/00000/00100/00000", 1.5, true},
		{"far corner, tol 3", "00000/00000/00000/00001", 3, false},
		{"far corner, tol 3.7", "00000/00000/00000/00001", 3.7, true},
	}
	for _, tt := range tests {
		if got := PointingGame(m, 4, 5, parse(tt.g), tt.tol); got != tt.want {
			t.Errorf("%s: PointingGame = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Ties: the first maximum in row-major order is the point.
	tie := []float32{0, 2, 2, 0}
	if r, c := Argmax(tie, 2, 2); r != 0 || c != 1 {
		t.Errorf("Argmax of ties = (%d,%d), want (0,1)", r, c)
	}
	if PointingGame(tie, 2, 2, parse("00/10"), 0) {
		t.Errorf("PointingGame hit the second of two tied maxima")
	}
	if r, c := Argmax([]float32{nan, nan}, 1, 2); r != -1 || c != -1 {
		t.Errorf("Argmax of all-NaN = (%d,%d), want (-1,-1)", r, c)
	}
	if PointingGame([]float32{nan, nan}, 1, 2, parse("11"), 3) {
		t.Errorf("PointingGame of an all-NaN map is a hit")
	}
}

func TestScatter(t *testing.T) {
	tests := []struct {
		name    string
		mask    string
		w       int
		conn    Connectivity
		want    ScatterStats
		wantLab string
	}{
		{"empty", "000/000", 3, Four, ScatterStats{}, "000/000"},
		{"full", "111/111", 3, Four, ScatterStats{1, 6, 6, 1}, "111/111"},
		{"diagonal 4", "100/010/001", 3, Four, ScatterStats{3, 3, 1, 1. / 3}, "100/020/003"},
		{"diagonal 8", "100/010/001", 3, Eight, ScatterStats{1, 3, 3, 1}, "100/010/001"},
		{"two blobs", "1100/1100/0001", 4, Four, ScatterStats{2, 5, 4, .8}, "1100/1100/0002"},
		{"u shape", "101/101/111", 3, Four, ScatterStats{1, 7, 7, 1}, "101/101/111"},
		{"ring", "111/101/111", 3, Four, ScatterStats{1, 8, 8, 1}, "111/101/111"},
		{"anti-diagonal 8", "001/010/100", 3, Eight, ScatterStats{1, 3, 3, 1}, "001/010/100"},
	}
	for _, tt := range tests {
		m := parse(tt.mask)
		h := len(m) / tt.w
		if got := Scatter(m, h, tt.w, tt.conn); got.Components != tt.want.Components ||
			got.Area != tt.want.Area || got.Largest != tt.want.Largest || !near(got.LargestShare, tt.want.LargestShare) {
			t.Errorf("%s: Scatter = %+v, want %+v", tt.name, got, tt.want)
		}
		lab, sizes := Components(m, h, tt.w, tt.conn)
		var b strings.Builder
		for i, l := range lab {
			if i > 0 && i%tt.w == 0 {
				b.WriteByte('/')
			}
			b.WriteByte(byte('0' + l))
		}
		if b.String() != tt.wantLab {
			t.Errorf("%s: labels %s, want %s", tt.name, b.String(), tt.wantLab)
		}
		if len(sizes) != tt.want.Components {
			t.Errorf("%s: %d sizes, want %d", tt.name, len(sizes), tt.want.Components)
		}
	}
}

func TestEntropy(t *testing.T) {
	tests := []struct {
		name            string
		m               []float32
		nats, bits, nrm float64
	}{
		{"uniform 4", []float32{1, 1, 1, 1}, math.Log(4), 2, 1},
		{"uniform 8 scaled", []float32{3, 3, 3, 3, 3, 3, 3, 3}, math.Log(8), 3, 1},
		{"one pixel", []float32{0, 0, 7, 0}, 0, 0, 0},
		{"half half", []float32{0, 2, 2, 0}, math.Log(2), 1, .5},
		{"negatives carry no mass", []float32{-5, 1, -1, 0}, 0, 0, 0},
		{"zero", []float32{0, 0, 0}, math.NaN(), math.NaN(), math.NaN()},
		{"single cell", []float32{4}, 0, 0, 0},
		{"empty", nil, math.NaN(), math.NaN(), math.NaN()},
		{"NaN ignored", []float32{nan, 1, 1}, math.Log(2), 1, math.Log(2) / math.Log(3)},
	}
	for _, tt := range tests {
		if got := Entropy(tt.m); !near(got, tt.nats) {
			t.Errorf("%s: Entropy = %v, want %v", tt.name, got, tt.nats)
		}
		if got := EntropyBits(tt.m); !near(got, tt.bits) {
			t.Errorf("%s: EntropyBits = %v, want %v", tt.name, got, tt.bits)
		}
		if got := NormalizedEntropy(tt.m); !near(got, tt.nrm) {
			t.Errorf("%s: NormalizedEntropy = %v, want %v", tt.name, got, tt.nrm)
		}
	}
}

func TestCentroid(t *testing.T) {
	at := func(h, w int, pix ...int) []float32 {
		m := make([]float32, h*w)
		for _, p := range pix {
			m[p] = 1
		}
		return m
	}
	tests := []struct {
		name   string
		m      []float32
		h, w   int
		r, c   float64
		wantOK bool
	}{
		{"single", at(4, 5, 2*5+3), 4, 5, 2, 3, true},
		{"pair", at(4, 5, 0, 4), 4, 5, 0, 2, true},
		{"uniform", []float32{1, 1, 1, 1, 1, 1}, 2, 3, .5, 1, true},
		{"weighted", []float32{3, 0, 1, 0}, 1, 4, 0, .5, true},
		{"negatives ignored", []float32{-9, 0, 1, 0}, 1, 4, 0, 2, true},
		{"zero", make([]float32, 4), 2, 2, math.NaN(), math.NaN(), false},
	}
	for _, tt := range tests {
		r, c, ok := Centroid(tt.m, tt.h, tt.w)
		if ok != tt.wantOK || !near(r, tt.r) || !near(c, tt.c) {
			t.Errorf("%s: Centroid = (%v, %v, %v), want (%v, %v, %v)", tt.name, r, c, ok, tt.r, tt.c, tt.wantOK)
		}
	}
	a, b := at(5, 5, 0), at(5, 5, 3*5+4)
	if got := CentroidShift(a, b, 5, 5); !near(got, 5) {
		t.Errorf("CentroidShift = %v, want 5", got)
	}
	if got := CentroidShift(a, a, 5, 5); got != 0 {
		t.Errorf("CentroidShift of a map with itself = %v, want 0", got)
	}
	if got := CentroidShift(a, make([]float32, 25), 5, 5); !math.IsNaN(got) {
		t.Errorf("CentroidShift with an empty map = %v, want NaN", got)
	}
	if r, c, _ := Centroid(Float(parse("0110/0110")), 2, 4); r != .5 || c != 1.5 {
		t.Errorf("Centroid of mask = (%v, %v), want (0.5, 1.5)", r, c)
	}
}

func TestRankCorrelation(t *testing.T) {
	tests := []struct {
		name              string
		a, b              []float32
		spearman, kendall float64
	}{
		{"monotone", []float32{1, 2, 3, 4}, []float32{1, 4, 9, 100}, 1, 1},
		{"reversed", []float32{1, 2, 3, 4}, []float32{4, 3, 2, 1}, -1, -1},
		{"ties", []float32{1, 2, 2, 3}, []float32{1, 2, 3, 4}, 0.9486832980505138, 0.9128709291752769},
		// scipy.stats.kendalltau documentation example.
		{"scipy", []float32{12, 2, 1, 12, 2}, []float32{1, 4, 7, 1, 0}, -0.5407380704358751, -0.47140452079103173},
		{"constant", []float32{1, 1, 1}, []float32{1, 2, 3}, math.NaN(), math.NaN()},
		{"single", []float32{1}, []float32{1}, math.NaN(), math.NaN()},
	}
	for _, tt := range tests {
		if got := SpearmanRank(tt.a, tt.b); !near(got, tt.spearman) {
			t.Errorf("%s: SpearmanRank = %v, want %v", tt.name, got, tt.spearman)
		}
		if got := KendallTau(tt.a, tt.b); !near(got, tt.kendall) {
			t.Errorf("%s: KendallTau = %v, want %v", tt.name, got, tt.kendall)
		}
	}
	if got := Ranks([]float32{10, 30, 20, 20, nan}); fmt.Sprint(got) != "[2 5 3.5 3.5 1]" {
		t.Errorf("Ranks = %v, want [2 5 3.5 3.5 1]", got)
	}
}

// kendallNaive is the O(n^2) definition of tau-b.
func kendallNaive(a, b []float32) float64 {
	var conc, disc, tx, ty float64
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			dx, dy := a[i]-a[j], b[i]-b[j]
			switch {
			case dx == 0 && dy == 0:
			case dx == 0:
				tx++
			case dy == 0:
				ty++
			case (dx > 0) == (dy > 0):
				conc++
			default:
				disc++
			}
		}
	}
	return (conc - disc) / math.Sqrt((conc+disc+tx)*(conc+disc+ty))
}

func TestKendallMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + r.IntN(60)
		levels := 1 + r.IntN(8)
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i] = float32(r.IntN(levels))
			b[i] = float32(r.IntN(levels + 2))
		}
		got, want := KendallTau(a, b), kendallNaive(a, b)
		if math.Abs(got-want) > 1e-12 && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("trial %d: KendallTau = %v, naive %v (a=%v b=%v)", trial, got, want, a, b)
		}
	}
}

func TestResizeBilinear(t *testing.T) {
	tests := []struct {
		name       string
		m          []float32
		h, w, H, W int
		want       []float32
	}{
		// torch.nn.functional.interpolate(torch.tensor([[[[1.,2],[3,4]]]]), size=(4,4),
		// mode="bilinear", align_corners=False)
		{"2x2 to 4x4", []float32{1, 2, 3, 4}, 2, 2, 4, 4, []float32{
			1, 1.25, 1.75, 2,
			1.5, 1.75, 2.25, 2.5,
			2.5, 2.75, 3.25, 3.5,
			3, 3.25, 3.75, 4}},
		{"4 to 2 averages pairs", []float32{0, 2, 4, 6}, 1, 4, 1, 2, []float32{1, 5}},
		{"identity", []float32{1, 2, 3, 4, 5, 6}, 2, 3, 2, 3, []float32{1, 2, 3, 4, 5, 6}},
		{"1x1 broadcast", []float32{7}, 1, 1, 2, 3, []float32{7, 7, 7, 7, 7, 7}},
		// size=(1,3) from [[0, 3]]: source x = (X+0.5)*2/3-0.5 = -1/6->0, 0.5, 7/6->clamped.
		{"2 to 3", []float32{0, 3}, 1, 2, 1, 3, []float32{0, 1.5, 3}},
		{"to empty", []float32{7}, 1, 1, 0, 0, []float32{}},
	}
	for _, tt := range tests {
		got := ResizeBilinear(tt.m, tt.h, tt.w, tt.H, tt.W)
		if len(got) != len(tt.want) {
			t.Fatalf("%s: %d values, want %d", tt.name, len(got), len(tt.want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-tt.want[i])) > 1e-6 {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

func TestBoxes(t *testing.T) {
	if b := VOCBox(1, 1, 2, 3); b != (Box{0, 0, 2, 3}) || b.Area() != 6 {
		t.Errorf("VOCBox(1,1,2,3) = %v area %d, want [0,2)x[0,3) area 6", b, b.Area())
	}
	tests := []struct {
		name    string
		h, w    int
		boxes   []Box
		want    string
		wantErr string
	}{
		{"one", 3, 4, []Box{{1, 0, 3, 2}}, "0110/0110/0000", ""},
		{"union", 3, 4, []Box{{0, 0, 1, 1}, {3, 2, 4, 3}}, "1000/0000/0001", ""},
		{"clipped", 3, 4, []Box{{-5, 2, 99, 99}}, "0000/0000/1111", ""},
		{"empty box", 2, 2, []Box{{1, 1, 1, 2}}, "00/00", ""},
		{"none", 2, 2, nil, "00/00", ""},
		{"inverted", 2, 2, []Box{{0, 0, 1, 1}, {2, 0, 1, 1}}, "", "box 1 [2,1)x[0,1): minimum corner exceeds maximum corner"},
		{"outside", 2, 2, []Box{{2, 0, 5, 1}}, "", "box 0 [2,5)x[0,1) lies entirely outside the 2x2 image"},
		{"bad size", 0, 2, nil, "", "box mask size 0x2: height and width must be positive"},
	}
	for _, tt := range tests {
		got, err := BoxMask(tt.h, tt.w, tt.boxes...)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: unexpected error %v", tt.name, err)
			continue
		}
		if s := format(got, tt.w); s != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, s, tt.want)
		}
	}
	if b, ok := Bounds(parse("0000/0110/0100"), 3, 4); !ok || b != (Box{1, 1, 3, 3}) {
		t.Errorf("Bounds = %v %v, want [1,3)x[1,3)", b, ok)
	}
	if _, ok := Bounds(parse("00/00"), 2, 2); ok {
		t.Errorf("Bounds of empty mask reported ok")
	}
	b, err := Box{10, 20, 31, 40}.Resize(100, 200, 50, 50)
	if err != nil || b != (Box{2, 10, 8, 20}) {
		t.Errorf("Resize = %v, %v; want [2,8)x[10,20)", b, err)
	}
	if _, err := (Box{}).Resize(0, 10, 5, 5); err == nil {
		t.Errorf("Resize from a 0x10 image gave no error")
	}
}

func TestCheck(t *testing.T) {
	if err := CheckMap([]float32{1, 2, 3, 4}, 2, 2); err != nil {
		t.Errorf("CheckMap of a valid map: %v", err)
	}
	for _, tt := range []struct {
		m    []float32
		h, w int
		want string
	}{
		{[]float32{1, 2, 3}, 2, 2, "map has 3 values, want 4 for 2x2"},
		{[]float32{1, 2, nan, 4}, 2, 2, "map value 2 (row 1, column 0) is NaN, want a finite number"},
		{[]float32{float32(math.Inf(1))}, 1, 1, "map value 0 (row 0, column 0) is +Inf, want a finite number"},
		{nil, 0, 3, "map size 0x3: height and width must be positive"},
	} {
		if err := CheckMap(tt.m, tt.h, tt.w); err == nil || err.Error() != tt.want {
			t.Errorf("CheckMap(%v, %d, %d) = %v, want %q", tt.m, tt.h, tt.w, err, tt.want)
		}
	}
	if err := CheckMask(make([]bool, 5), 2, 2); err == nil || err.Error() != "mask has 5 values, want 4 for 2x2" {
		t.Errorf("CheckMask = %v", err)
	}
	if err := CheckMask(make([]bool, 4), 2, 2); err != nil {
		t.Errorf("CheckMask of a valid mask: %v", err)
	}
}

func TestPanicsNameFunctionAndSizes(t *testing.T) {
	tests := []struct {
		want string
		f    func()
	}{
		{"mask.TopK: len(m)=10, want h*w=3*4=12", func() { TopK(make([]float32, 10), 3, 4, 1) }},
		{"mask.IoU: len(a)=2 differs from len(b)=3", func() { IoU(make([]bool, 2), make([]bool, 3)) }},
		{"mask.PointingGame: len(g)=3, want h*w=2*2=4", func() { PointingGame(make([]float32, 4), 2, 2, make([]bool, 3), 0) }},
		{"mask.Upsample: negative output size H=-1 W=2", func() { Upsample(make([]bool, 1), 1, 1, -1, 2) }},
		{"mask.Components: connectivity 6, want 4 or 8", func() { Components(make([]bool, 1), 1, 1, 6) }},
		{"mask.ResizeBilinear: len(m)=1, want h*w=2*2=4", func() { ResizeBilinear(make([]float32, 1), 2, 2, 4, 4) }},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if r := recover(); r != tt.want {
					t.Errorf("panic %v, want %q", r, tt.want)
				}
			}()
			tt.f()
		}()
	}
}

func FuzzBoxMask(f *testing.F) {
	f.Add(3, 4, 0, 0, 2, 2)
	f.Add(1, 1, -5, -5, 5, 5)
	f.Add(2, 2, 3, 1, 1, 3)
	f.Add(0, 2, 0, 0, 0, 0)
	f.Fuzz(func(t *testing.T, h, w, x0, y0, x1, y1 int) {
		if h > 64 || w > 64 {
			t.Skip()
		}
		b := Box{x0, y0, x1, y1}
		m, err := BoxMask(h, w, b)
		if err != nil {
			return
		}
		if len(m) != h*w {
			t.Fatalf("BoxMask(%d, %d, %v) has %d pixels", h, w, b, len(m))
		}
		want := 0
		for i := range h {
			for j := range w {
				if j >= x0 && j < x1 && i >= y0 && i < y1 {
					want++
				}
			}
		}
		if n := Count(m); n != want {
			t.Fatalf("BoxMask(%d, %d, %v) set %d pixels, want %d", h, w, b, n, want)
		}
	})
}

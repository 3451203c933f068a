package segment

import "sort"

// components labels the 4-connected regions of equal label. It returns the
// component index of every pixel (numbered in raster order of first pixel)
// and the number of components.
func components(labels []int32, h, w int) ([]int32, int) {
	comp := make([]int32, len(labels))
	for i := range comp {
		comp[i] = -1
	}
	stack := make([]int, 0, 64)
	nc := int32(0)
	for start := range labels {
		if comp[start] >= 0 {
			continue
		}
		l := labels[start]
		comp[start] = nc
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			y, x := p/w, p%w
			visit := func(q int) {
				if comp[q] < 0 && labels[q] == l {
					comp[q] = nc
					stack = append(stack, q)
				}
			}
			if x > 0 {
				visit(p - 1)
			}
			if x+1 < w {
				visit(p + 1)
			}
			if y > 0 {
				visit(p - w)
			}
			if y+1 < h {
				visit(p + w)
			}
		}
		nc++
	}
	return comp, int(nc)
}

// connect turns a label map into connected superpixels. Every 4-connected
// piece of a label becomes a candidate superpixel. Pieces with fewer than
// minSize pixels, and (if orphans is set) pieces that are not the largest
// piece of their original label, are merged into the adjacent superpixel with
// which they share the longest border (repeatedly, smallest first, until no
// such piece remains or one superpixel is left). The result is relabelled
// 0..K-1 in raster order of each superpixel's first pixel.
func connect(labels []int32, h, w, minSize int, orphans bool) *Segmentation {
	comp, nc := components(labels, h, w)
	size := make([]int, nc)
	for _, c := range comp {
		size[c]++
	}
	// orphan[c]: piece c is not the largest piece of its original label.
	orphan := make([]bool, nc)
	if orphans {
		best := map[int32]int32{} // label -> largest piece so far
		first := make([]int, nc)
		for i := range first {
			first[i] = -1
		}
		for i, c := range comp {
			if first[c] < 0 {
				first[c] = i
			}
		}
		for c := 0; c < nc; c++ {
			l := labels[first[c]]
			b, ok := best[l]
			if !ok || size[c] > size[b] {
				best[l] = int32(c)
			}
		}
		for c := 0; c < nc; c++ {
			orphan[c] = best[labels[first[c]]] != int32(c)
		}
	}

	parent := make([]int32, nc)
	for i := range parent {
		parent[i] = int32(i)
	}
	var find func(int32) int32
	find = func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	gsize := append([]int(nil), size...) // valid at roots
	// A group is an orphan while its root is an orphan piece; such groups
	// keep merging until they join a group rooted at a main piece.
	groups := nc
	candidate := func(r int32) bool {
		return gsize[r] < minSize || orphan[r]
	}
	type pair struct{ a, b int32 }
	for groups > 1 {
		var cands []int32
		for c := 0; c < nc; c++ {
			r := int32(c)
			if find(r) == r && candidate(r) {
				cands = append(cands, r)
			}
		}
		if len(cands) == 0 {
			break
		}
		isCand := make(map[int32]bool, len(cands))
		for _, r := range cands {
			isCand[r] = true
		}
		// Border lengths between a candidate group and its neighbours.
		border := map[pair]int{}
		add := func(p, q int) {
			a, b := find(comp[p]), find(comp[q])
			if a == b {
				return
			}
			if isCand[a] {
				border[pair{a, b}]++
			}
			if isCand[b] {
				border[pair{b, a}]++
			}
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := y*w + x
				if x+1 < w {
					add(p, p+1)
				}
				if y+1 < h {
					add(p, p+w)
				}
			}
		}
		nb := map[int32][]pair{}
		for k := range border {
			nb[k.a] = append(nb[k.a], k)
		}
		sort.SliceStable(cands, func(i, j int) bool {
			if gsize[cands[i]] != gsize[cands[j]] {
				return gsize[cands[i]] < gsize[cands[j]]
			}
			return cands[i] < cands[j]
		})
		progress := false
		for _, r := range cands {
			if find(r) != r || !candidate(r) {
				continue // already absorbed or grown this pass
			}
			ks := nb[r]
			sort.Slice(ks, func(i, j int) bool { return ks[i].b < ks[j].b })
			bestN, bestLen := int32(-1), -1
			for _, k := range ks {
				if find(k.b) == r {
					continue
				}
				if border[k] > bestLen {
					bestN, bestLen = k.b, border[k]
				}
			}
			if bestN < 0 {
				continue
			}
			t := find(bestN)
			parent[r] = t
			gsize[t] += gsize[r]
			groups--
			progress = true
		}
		if !progress {
			break
		}
	}

	out := make([]int32, len(labels))
	newID := make([]int32, nc)
	for i := range newID {
		newID[i] = -1
	}
	k := int32(0)
	for i, c := range comp {
		r := find(c)
		if newID[r] < 0 {
			newID[r] = k
			k++
		}
		out[i] = newID[r]
	}
	return &Segmentation{H: h, W: w, K: int(k), Labels: out}
}

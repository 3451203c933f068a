package main

import (
	"fmt"
	"math"

	"github.com/arp-robustness/arp/lime"
	"github.com/arp-robustness/arp/limits"
	"github.com/spf13/pflag"
)

// checkExplainFlags validates the values of arp explain's numeric flags,
// one flag per message, and refuses flags that the chosen method, mask or
// (missing) attack would ignore.
func checkExplainFlags(fl *pflag.FlagSet, f *explainFlags) error {
	for _, c := range []struct {
		flag      string
		v, lo, hi int
		meaning   string
	}{
		{"samples", f.lime.Samples, 2, lime.MaxSamples, "perturbed images"},
		{"superpixels", f.lime.Superpixels, 1, 10000, "superpixels"},
		{"k", f.k, 0, 1000000, "cells or superpixels of the top-k mask; 0: 7, or 10 for lime"},
	} {
		if err := limits.Int("--"+c.flag, c.v, c.lo, c.hi, c.meaning); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		flag    string
		v       float64
		lo, hi  float64
		open    bool
		meaning string
	}{
		{"eps", f.eps, 0, 1, false, "a budget on the [0,1] pixel scale"},
		{"fraction", f.fraction, 0, 1, true, "a share of the map's maximum"},
		{"kernel-size", f.lime.KernelSize, 0, 1000, true, "quickshift's kernel size"},
		{"max-dist", f.lime.MaxDist, 0, 1e6, true, "quickshift's link distance"},
	} {
		if err := limits.Float("--"+c.flag, c.v, c.lo, c.hi, c.open, c.meaning); err != nil {
			return err
		}
	}
	if t := f.objectThreshold; math.IsNaN(t) || math.IsInf(t, 0) || t > 1 {
		return fmt.Errorf("--object-threshold %g: want a pixel value up to 1 (negative: no object mask)", t)
	}
	isLime := f.method == "lime"
	for _, name := range []string{"samples", "segmenter", "superpixels", "kernel-size", "max-dist"} {
		if fl.Changed(name) && !isLime {
			return fmt.Errorf("--%s applies to --method lime; it would be ignored here", name)
		}
	}
	if fl.Changed("eps") && f.attack == "" {
		return fmt.Errorf("--eps is the budget of --attack; without an attack it would be ignored")
	}
	if fl.Changed("fraction") && f.mask != "fraction" {
		return fmt.Errorf("--fraction applies to --mask fraction; it would be ignored here")
	}
	if fl.Changed("k") && !(f.mask == "topk" || (f.mask == "" && isLime)) {
		return fmt.Errorf("--k applies to --mask topk (the default for lime); it would be ignored here")
	}
	return nil
}

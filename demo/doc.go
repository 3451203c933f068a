// Package demo is arp's main job end to end on the MNIST subset built into
// arp (no download): it trains two small CNNs (mnist-small) on
// mnist-mini:train, "adv" (Step-LL adversarial training, eps 0.075 on the
// [0,1] scale, the paper's 0.15 on [-1,1]) and "arp" (the same plus
// attention rectification and preservation, a, b, c = 8, 4, 1); evaluates
// both on the first test images with an attack ensemble and the sanity
// checks (package eval); runs the attention-under-attack analysis on both
// (package analysis); and writes one HTML report comparing them (package
// report). Run does it all; arp demo is Run with Full or Quick.
package demo

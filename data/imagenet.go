package data

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Synset is one of the 1000 classes of the ILSVRC2012 classification task.
type Synset struct {
	// WNID is the WordNet ID, e.g. "n01440764".
	WNID string
	// ID is the ILSVRC2012_ID of the devkit (1 to 1000), the number used by
	// ILSVRC2012_validation_ground_truth.txt.
	ID int
	// Name is the class name, e.g. "tench".
	Name string
}

// imagenetSynsets holds the 1000 synsets sorted by WordNet ID, one per line:
// WNID, ILSVRC2012_ID and name separated by tabs. The IDs and names are the
// devkit's map_clsloc.txt (names with spaces for underscores, the two
// "maillot" classes named as torchvision names them); the WNID order gives
// the class index every public ImageNet model uses (torchvision, Keras;
// TF-slim adds 1 for its background class 0).
//
//go:embed imagenet_synsets.tsv
var imagenetSynsets string

var synsets = sync.OnceValue(func() []Synset {
	var out []Synset
	for _, l := range strings.Split(strings.TrimSpace(imagenetSynsets), "\n") {
		f := strings.SplitN(l, "\t", 3)
		id, _ := strconv.Atoi(f[1])
		out = append(out, Synset{WNID: f[0], ID: id, Name: f[2]})
	}
	return out
})

// ImageNetSynsets returns the 1000 ILSVRC2012 classes in label order
// (sorted by WordNet ID).
func ImageNetSynsets() []Synset { return slices.Clone(synsets()) }

// ImageNetClasses returns the 1000 class names in label order.
func ImageNetClasses() []string {
	var n []string
	for _, s := range synsets() {
		n = append(n, s.Name)
	}
	return n
}

// imagenetLabel returns the label of a WordNet ID, or -1.
func imagenetLabel(wnid string) int {
	i, ok := slices.BinarySearchFunc(synsets(), wnid, func(s Synset, w string) int { return strings.Compare(s.WNID, w) })
	if !ok {
		return -1
	}
	return i
}

// imagenetByID maps an ILSVRC2012_ID (1..1000) to its label.
var imagenetByID = sync.OnceValue(func() []int {
	m := make([]int, 1001)
	for i, s := range synsets() {
		m[s.ID] = i
	}
	return m
})

// InceptionPreprocessing is the evaluation preprocessing of the Inception
// models the ARP paper attacks (TF-slim's inception_preprocessing for
// evaluation): a central crop of 87.5% of each side, then a bilinear resize
// to 299x299. The models map the [0,1] pixels to [-1,1] themselves (their
// ONNX metadata says range [-1,1]).
var InceptionPreprocessing = Preprocessing{CropFraction: 0.875, Height: 299, Width: 299}

// Preprocessing is how images of differing sizes become model inputs.
type Preprocessing struct {
	// CropFraction keeps the central fraction of each side (0 or 1: all)
	// before resizing.
	CropFraction float64
	// Height, Width is the size after the bilinear resize.
	Height, Width int
}

// String describes the preprocessing, as recorded with datasets.
func (p Preprocessing) String() string {
	s := fmt.Sprintf("bilinear resize to %dx%d (HxW)", p.Height, p.Width)
	if p.CropFraction > 0 && p.CropFraction < 1 {
		s = fmt.Sprintf("central crop %.4g of each side, ", p.CropFraction) + s
	}
	return s
}

// centralCrop returns the crop window of an w x h image: TF's
// tf.image.central_crop keeps [off, size-off) with off = int((size -
// size*fraction) / 2) on each axis.
func (p Preprocessing) centralCrop(w, h int) (x0, y0, cw, ch int) {
	if p.CropFraction <= 0 || p.CropFraction >= 1 {
		return 0, 0, w, h
	}
	offX := int((float64(w) - float64(w)*p.CropFraction) / 2)
	offY := int((float64(h) - float64(h)*p.CropFraction) / 2)
	return offX, offY, w - 2*offX, h - 2*offY
}

// ImageNet validation layout (ILSVRC2012): a flat folder of
// ILSVRC2012_val_%08d.JPEG files.
var imagenetValName = regexp.MustCompile(`^ILSVRC2012_val_(\d{8})\.(?i:jpe?g|png)$`)

// Ground-truth label files recognised next to a flat validation folder (or
// in its parent): the devkit's (one ILSVRC2012_ID per line) and TF-slim's
// (one WordNet ID per line); line k belongs to ILSVRC2012_val_0000000k.
var imagenetLabelFiles = []string{"ILSVRC2012_validation_ground_truth.txt", "imagenet_2012_validation_synset_labels.txt"}

var wnidPattern = regexp.MustCompile(`^n\d{8}$`)

// isImageNetVal reports whether dir is a flat ILSVRC2012 validation folder:
// no sub-folders other than hidden ones and annotation folders, and at
// least one ILSVRC2012_val_*.JPEG file.
func isImageNetVal(dir string) bool {
	des, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	found := false
	for _, de := range des {
		if !de.IsDir() && imagenetValName.MatchString(de.Name()) {
			found = true
		}
	}
	return found
}

// isImageNetClassFolder reports whether every class folder of an image
// folder is a WordNet ID of the 1000 ILSVRC2012 classes.
func isImageNetClassFolder(classes []string) bool {
	if len(classes) == 0 {
		return false
	}
	for _, c := range classes {
		if imagenetLabel(c) < 0 {
			return false
		}
	}
	return true
}

// ParseImageNetLabels parses a validation ground-truth file: one label per
// line, line k for image k, each either an ILSVRC2012_ID (1 to 1000, the
// devkit's ILSVRC2012_validation_ground_truth.txt) or a WordNet ID
// (TF-slim's imagenet_2012_validation_synset_labels.txt). It returns the
// labels in arp's class order (sorted WordNet IDs). Blank lines at the end
// are ignored; any other bad line is an error naming the file and line
// (Record is the zero-based line index).
func ParseImageNetLabels(name string, b []byte) ([]int, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\r\n\t "), "\n")
	if len(lines) == 1 && strings.TrimSpace(lines[0]) == "" {
		return nil, &Error{File: name, Record: -1, Msg: "empty labels file"}
	}
	if len(lines) > 1<<20 {
		return nil, &Error{File: name, Record: -1, Msg: fmt.Sprintf("%d lines: too many for a labels file", len(lines))}
	}
	out := make([]int, len(lines))
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if wnidPattern.MatchString(l) {
			if out[i] = imagenetLabel(l); out[i] < 0 {
				return nil, &Error{File: name, Record: i, What: "line", Msg: fmt.Sprintf("%q is not one of the 1000 ILSVRC2012 synsets", l)}
			}
			continue
		}
		id, err := strconv.Atoi(l)
		if err != nil || id < 1 || id > 1000 {
			return nil, &Error{File: name, Record: i, What: "line", Msg: fmt.Sprintf("%q is neither an ILSVRC2012_ID (1 to 1000) nor a WordNet ID", l)}
		}
		out[i] = imagenetByID()[id]
	}
	return out, nil
}

// findImageNetLabels returns the labels file of a flat validation folder:
// opt.Labels, else one of imagenetLabelFiles in the folder or its parent.
func findImageNetLabels(dir string, opt FolderOptions) string {
	if opt.Labels != "" {
		return opt.Labels
	}
	for _, d := range []string{dir, filepath.Dir(filepath.Clean(dir))} {
		for _, f := range imagenetLabelFiles {
			p := filepath.Join(d, f)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// imagenetAnnotationDirs are where a flat validation folder's bounding-box
// XML files are looked for when FolderOptions.Annotations is empty: next to
// the images, then the folder ILSVRC2012_bbox_val_v3.tgz unpacks to ("val")
// and the Kaggle layout's Annotations/CLS-LOC/val, both beside the image
// folder.
func imagenetAnnotationDirs(dir string, opt FolderOptions) []string {
	if opt.Annotations != "" {
		return []string{opt.Annotations}
	}
	parent := filepath.Dir(filepath.Clean(dir))
	cands := []string{dir, filepath.Join(parent, "val"), filepath.Join(parent, "bbox_val"), filepath.Join(parent, "Annotations", "CLS-LOC", "val"),
		filepath.Join(filepath.Dir(filepath.Dir(parent)), "Annotations", "CLS-LOC", "val")}
	var out []string
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.IsDir() && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// listImageNetVal lists a flat validation folder: images in file-number
// order, labels from the labels file (or, without one, from the first
// object of each image's XML), boxes from the XML files.
func listImageNetVal(dir string, opt FolderOptions, p *problems) (classes []string, entries []folderEntry) {
	if opt.Annotations != "" {
		if err := checkDir(opt.Annotations); err != nil {
			p.addErr(err)
			return nil, nil
		}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		p.add(dir, -1, "%s", describeOSError(err))
		return nil, nil
	}
	var labels []int
	lf := findImageNetLabels(dir, opt)
	if lf != "" {
		b, err := readFile(lf)
		if err == nil {
			labels, err = ParseImageNetLabels(lf, b)
		}
		if err != nil {
			p.addErr(err)
			return nil, nil
		}
	}
	annDirs := imagenetAnnotationDirs(dir, opt)
	for _, de := range des {
		m := imagenetValName.FindStringSubmatch(de.Name())
		if de.IsDir() || m == nil {
			continue
		}
		path := filepath.Join(dir, de.Name())
		k, _ := strconv.Atoi(m[1])
		e := folderEntry{path: path, label: -1}
		base := strings.TrimSuffix(de.Name(), filepath.Ext(de.Name())) + ".xml"
		for _, a := range annDirs {
			if st, err := os.Stat(filepath.Join(a, base)); err == nil && !st.IsDir() {
				e.xml = filepath.Join(a, base)
				break
			}
		}
		switch {
		case labels != nil && (k < 1 || k > len(labels)):
			p.add(path, -1, "image number %d has no line in %s (%d lines)", k, lf, len(labels))
			e.bad = true
		case labels != nil:
			e.label = labels[k-1]
		case e.xml == "":
			p.add(path, -1, "no label: no ground-truth file (%s) in %s or its parent and no bounding-box XML for this image", strings.Join(imagenetLabelFiles, " or "), dir)
			e.bad = true
		default:
			e.labelFromXML = true
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		p.add(dir, -1, "no ILSVRC2012_val_*.JPEG images")
	}
	return ImageNetClasses(), entries
}

package data

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestImageNetSynsets(t *testing.T) {
	s := ImageNetSynsets()
	if len(s) != 1000 {
		t.Fatalf("%d synsets", len(s))
	}
	ids := map[int]bool{}
	names := map[string]bool{}
	for i, x := range s {
		if i > 0 && s[i-1].WNID >= x.WNID {
			t.Fatalf("synsets not sorted at %d: %s, %s", i, s[i-1].WNID, x.WNID)
		}
		if !wnidPattern.MatchString(x.WNID) || x.ID < 1 || x.ID > 1000 || ids[x.ID] || x.Name == "" || names[x.Name] {
			t.Fatalf("synset %d: %+v (duplicate ID or name?)", i, x)
		}
		ids[x.ID], names[x.Name] = true, true
	}
	// Fixed points every ImageNet model agrees on (torchvision's class
	// indices, the devkit's ILSVRC2012_IDs).
	for _, c := range []struct {
		label int
		wnid  string
		id    int
		name  string
	}{{0, "n01440764", 449, "tench"}, {1, "n01443537", 450, "goldfish"}, {278, "n02119789", 1, "kit fox"},
		{281, "n02123045", 174, "tabby"}, {999, "n15075141", 889, "toilet tissue"}, {954, "n07753592", 323, "banana"}} {
		if x := s[c.label]; x.WNID != c.wnid || x.ID != c.id || x.Name != c.name {
			t.Errorf("label %d: %+v, want %s %d %s", c.label, x, c.wnid, c.id, c.name)
		}
	}
}

func TestParseImageNetLabels(t *testing.T) {
	got, err := ParseImageNetLabels("gt.txt", []byte("449\n1\r\n889\n\n"))
	if err != nil || !slices.Equal(got, []int{0, 278, 999}) {
		t.Fatalf("%v, %v", got, err)
	}
	got, err = ParseImageNetLabels("synsets.txt", []byte("n01443537\nn02119789\n"))
	if err != nil || !slices.Equal(got, []int{1, 278}) {
		t.Fatalf("%v, %v", got, err)
	}
	for _, c := range []struct{ in, want string }{
		{"", "gt.txt: empty labels file"},
		{"1\n0\n", "gt.txt: line 1: \"0\" is neither an ILSVRC2012_ID (1 to 1000) nor a WordNet ID"},
		{"1\n\n2\n", "gt.txt: line 1: \"\" is neither"},
		{"n99999999\n", "gt.txt: line 0: \"n99999999\" is not one of the 1000 ILSVRC2012 synsets"},
		{"1001", "line 0: \"1001\""},
	} {
		_, err := ParseImageNetLabels("gt.txt", []byte(c.in))
		errContains(t, err, c.want)
	}
}

// gradientImage has R = x/255 and G = y/255 at pixel (x, y), so crops can
// be located exactly.
func gradientImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func TestCentralCrop(t *testing.T) {
	// TF's central_crop: offset int((size - size*f)/2) on each side.
	for _, c := range []struct{ w, h, x0, y0, cw, ch int }{
		{100, 80, 6, 5, 88, 70}, {500, 375, 31, 23, 438, 329}, {299, 299, 18, 18, 263, 263}, {1, 1, 0, 0, 1, 1},
	} {
		x0, y0, cw, ch := InceptionPreprocessing.centralCrop(c.w, c.h)
		if x0 != c.x0 || y0 != c.y0 || cw != c.cw || ch != c.ch {
			t.Errorf("%dx%d: crop (%d,%d) %dx%d, want (%d,%d) %dx%d", c.w, c.h, x0, y0, cw, ch, c.x0, c.y0, c.cw, c.ch)
		}
	}
	// Cropping without resizing keeps the window's pixels exactly.
	pix, ow, oh, err := decodeImageCrop("g.png", pngBytes(t, gradientImage(100, 80)), 3, 0, 0, 0.875)
	if err != nil || ow != 100 || oh != 80 || len(pix) != 3*70*88 {
		t.Fatalf("%d pixels, %dx%d, %v", len(pix), ow, oh, err)
	}
	for _, p := range [][2]int{{0, 0}, {87, 69}, {40, 30}} {
		x, y := p[0], p[1]
		if r, g := pix[y*88+x], pix[70*88+y*88+x]; r != float32(x+6)/255 || g != float32(y+5)/255 {
			t.Errorf("crop pixel (%d,%d) = %v,%v, want the original (%d,%d)", x, y, r, g, x+6, y+5)
		}
	}
}

// writeImageNetMini writes a miniature ILSVRC2012 validation set in the
// devkit's layout: root/val_images/ILSVRC2012_val_0000000k.JPEG, the
// ground-truth file in root, the box XML files in root/val (as
// ILSVRC2012_bbox_val_v3.tgz unpacks). Image k is (60+10k) x (40+5k)
// pixels, red with a blue box whose VOC coordinates are in the XML.
func writeImageNetMini(t *testing.T, root string, n int) (images string, wnids []string) {
	images = filepath.Join(root, "val_images")
	wnids = []string{"n01440764", "n02119789", "n15075141", "n02119789", "n07753592", "n01443537"}[:n]
	var ids []string
	for k := 1; k <= n; k++ {
		w, h := 60+10*k, 40+5*k
		name := fmt.Sprintf("ILSVRC2012_val_%08d", k)
		writeFile(t, filepath.Join(images, name+".JPEG"), jpegBytes(t, testImage(w, h, 2, 3, w/2, h-1)))
		// The second object lies wholly outside the central crop.
		xml := vocXMLText(w, h, [5]string{wnids[k-1], "3", "4", fmt.Sprint(w / 2), fmt.Sprint(h - 1)}, [5]string{wnids[k-1], "1", "1", "2", "2"})
		writeFile(t, filepath.Join(root, "val", name+".xml"), []byte(xml))
		ids = append(ids, fmt.Sprint(ImageNetSynsets()[imagenetLabel(wnids[k-1])].ID))
	}
	writeFile(t, filepath.Join(root, "ILSVRC2012_validation_ground_truth.txt"), []byte(strings.Join(ids, "\n")+"\n"))
	return images, wnids
}

func TestImageNetValFolder(t *testing.T) {
	root := t.TempDir()
	images, wnids := writeImageNetMini(t, root, 5)
	d, err := Open(images, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 5 || d.C != 3 || d.H != 299 || d.W != 299 || len(d.Classes) != 1000 || d.Classes[278] != "kit fox" {
		t.Fatalf("%d images %dx%dx%d, %d classes", d.Len(), d.C, d.H, d.W, len(d.Classes))
	}
	if d.Preprocessing != "inception: central crop 0.875 of each side, bilinear resize to 299x299 (HxW)" {
		t.Fatalf("preprocessing %q", d.Preprocessing)
	}
	for i, w := range wnids {
		if d.Labels[i] != imagenetLabel(w) {
			t.Errorf("image %d: label %d, want %d (%s)", i, d.Labels[i], imagenetLabel(w), w)
		}
		// The box [2, w/2) x [3, h-1) (VOC 3..w/2, 4..h-1), clipped to
		// the crop and scaled to 299; the tiny corner box is dropped.
		k := i + 1
		w, h := 60+10*k, 40+5*k
		x0, y0, cw, ch := InceptionPreprocessing.centralCrop(w, h)
		want := Box{Label: wnids[i],
			XMin: math.Max(2, float64(x0)) - float64(x0), YMin: math.Max(3, float64(y0)) - float64(y0),
			XMax: float64(w/2 - x0), YMax: math.Min(float64(h-1), float64(y0+ch)) - float64(y0)}
		want.XMin, want.XMax = want.XMin*299/float64(cw), want.XMax*299/float64(cw)
		want.YMin, want.YMax = want.YMin*299/float64(ch), want.YMax*299/float64(ch)
		if len(d.Boxes[i]) != 1 || math.Abs(d.Boxes[i][0].XMax-want.XMax) > 1e-9 || math.Abs(d.Boxes[i][0].YMin-want.YMin) > 1e-9 || d.Boxes[i][0].XMin != want.XMin {
			t.Errorf("image %d: boxes %+v, want [%+v]", i, d.Boxes[i], want)
		}
		// The mask is the box: blue pixels inside it, red outside.
		m := d.Masks[i]
		inside, outside := 0, 0
		for y := 0; y < 299; y++ {
			for x := 0; x < 299; x++ {
				r := d.Images[i*3*299*299+y*299+x]
				if m[y*299+x] && r < 0.2 {
					inside++
				}
				if !m[y*299+x] && r > 0.8 {
					outside++
				}
			}
		}
		area := 0
		for _, v := range m {
			if v {
				area++
			}
		}
		if inside < area*9/10 || outside < (299*299-area)*9/10 {
			t.Errorf("image %d: mask (%d px) does not follow the blue box: %d blue inside, %d red outside", i, area, inside, outside)
		}
	}
	// A limit decodes only the first images.
	d2, err := Open(images, Options{Folder: FolderOptions{Limit: 2}})
	if err != nil || d2.Len() != 2 {
		t.Fatalf("limit: %v", err)
	}
	// A given size replaces the default preprocessing; no crop then.
	d3, err := Open(images, Options{Folder: FolderOptions{Height: 32, Width: 48}})
	if err != nil || d3.H != 32 || d3.W != 48 || d3.Preprocessing != "bilinear resize to 32x48 (HxW)" || len(d3.Boxes[0]) != 2 {
		t.Fatalf("%v %dx%d %q %v", err, d3.H, d3.W, d3.Preprocessing, d3.Boxes)
	}
	// Without the ground-truth file the labels come from the XML files.
	os.Remove(filepath.Join(root, "ILSVRC2012_validation_ground_truth.txt"))
	d4, err := Open(images, Options{Folder: FolderOptions{Limit: 3}})
	if err != nil || !slices.Equal(d4.Labels, d.Labels[:3]) {
		t.Fatalf("labels from XML: %v, %v", err, d4.Labels)
	}
	// TF-slim's synset-per-line file, given explicitly.
	lf := writeFile(t, filepath.Join(t.TempDir(), "synsets.txt"), []byte(strings.Join(wnids, "\n")))
	d5, err := Open(images, Options{Folder: FolderOptions{Labels: lf, Limit: 3}})
	if err != nil || !slices.Equal(d5.Labels, d.Labels[:3]) {
		t.Fatalf("TF-slim labels: %v, %v", err, d5.Labels)
	}
}

func TestImageNetValBad(t *testing.T) {
	root := t.TempDir()
	images, _ := writeImageNetMini(t, root, 3)
	gt := filepath.Join(root, "ILSVRC2012_validation_ground_truth.txt")
	writeFile(t, gt, []byte("449\n1\n"))
	_, err := Open(images, Options{})
	errContains(t, err, "ILSVRC2012_val_00000003.JPEG: image number 3 has no line in "+gt+" (2 lines)")
	writeFile(t, gt, []byte("449\nkit fox\n3\n"))
	_, err = Open(images, Options{})
	errContains(t, err, gt+": line 1: \"kit fox\" is neither")
	os.Remove(gt)
	os.Remove(filepath.Join(root, "val", "ILSVRC2012_val_00000002.xml"))
	_, err = Open(images, Options{})
	errContains(t, err, "ILSVRC2012_val_00000002.JPEG: no label: no ground-truth file")
	writeFile(t, filepath.Join(root, "val", "ILSVRC2012_val_00000002.xml"), []byte(vocXMLText(80, 50, [5]string{"dog", "1", "1", "5", "5"})))
	_, err = Open(images, Options{})
	errContains(t, err, "ILSVRC2012_val_00000002.xml: object 0: \"dog\" is not one of the 1000 ILSVRC2012 synsets")
	// Check lists every problem.
	writeFile(t, filepath.Join(root, "val", "ILSVRC2012_val_00000003.xml"), []byte("<annotation><object>"))
	r, err := Check(images, Options{})
	if err != nil || len(r.Problems) != 2 {
		t.Fatalf("check: %v, %v", err, r.Problems)
	}
	// Memory is bounded before decoding (the labels from a file: labels
	// from XML files are read while listing).
	writeFile(t, gt, []byte("449\n1\n3\n"))
	_, err = Open(images, Options{Folder: FolderOptions{Height: 1 << 15, Width: 1 << 15}})
	errContains(t, err, "3 images of 3x32768x32768 need 38.7 GB in memory, more than the 17 GB limit")
}

func TestImageNetClassFolder(t *testing.T) {
	root := t.TempDir()
	for i, w := range []string{"n02119789", "n01440764"} {
		for j := 0; j < 2; j++ {
			writeFile(t, filepath.Join(root, w, fmt.Sprintf("%s_%d.JPEG", w, j)), jpegBytes(t, testImage(50+i, 40, 0, 0, 10, 10)))
		}
	}
	d, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted folders are n01440764 (label 0), n02119789 (label 278).
	if !slices.Equal(d.Labels, []int{0, 0, 278, 278}) || len(d.Classes) != 1000 || d.H != 299 {
		t.Fatalf("labels %v, %d classes, %dx%d", d.Labels, len(d.Classes), d.H, d.W)
	}
	// A folder of other names stays an ordinary image folder.
	os.Rename(filepath.Join(root, "n01440764"), filepath.Join(root, "fish"))
	d, err = Open(root, Options{})
	if err != nil || !slices.Equal(d.Classes, []string{"fish", "n02119789"}) || d.Preprocessing != "" {
		t.Fatalf("%v %v %q", err, d.Classes, d.Preprocessing)
	}
}

func FuzzImageNetLabels(f *testing.F) {
	for _, s := range []string{"449\n1\n", "n01440764\n", "", "0", "1001\n", "n0144076\n", " 7 \r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseImageNetLabels("gt.txt", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gt.txt: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, v := range l {
			if v < 0 || v >= 1000 {
				t.Fatalf("label %d", v)
			}
		}
	})
}

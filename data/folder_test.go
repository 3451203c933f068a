package data

import (
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"
)

// writeFolder builds root/cat/{a.png,b.jpg}, root/dog/c.png; a.png (20x10)
// has a blue square at [4,8)x[2,6) annotated in a.xml (next to it or in
// annDir).
func writeFolder(t *testing.T, root, annDir string) {
	t.Helper()
	writeFile(t, filepath.Join(root, "cat", "a.png"), pngBytes(t, testImage(20, 10, 4, 2, 8, 6)))
	writeFile(t, filepath.Join(root, "cat", "b.jpg"), jpegBytes(t, testImage(20, 10, 0, 0, 0, 0)))
	writeFile(t, filepath.Join(root, "dog", "c.png"), pngBytes(t, testImage(40, 20, 0, 0, 40, 20)))
	writeFile(t, filepath.Join(root, "dog", "notes.txt"), []byte("ignored"))
	xml := vocXMLText(20, 10, [5]string{"square", "5", "3", "8", "6"})
	if annDir == "" {
		writeFile(t, filepath.Join(root, "cat", "a.xml"), []byte(xml))
	} else {
		writeFile(t, filepath.Join(annDir, "a.xml"), []byte(xml))
	}
}

func TestReadFolder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		annDir   bool
		opt      FolderOptions
		h, w, c  int
		wantMask []int // pixel indices of a.png's mask
		wantBox  Box
	}{
		{"native size", false, FolderOptions{}, 10, 20, 3, nil, Box{Label: "square", XMin: 4, YMin: 2, XMax: 8, YMax: 6}},
		{"resized half", false, FolderOptions{Height: 5, Width: 10}, 5, 10, 3,
			[]int{1*10 + 2, 1*10 + 3, 2*10 + 2, 2*10 + 3}, Box{Label: "square", XMin: 2, YMin: 1, XMax: 4, YMax: 3}},
		{"annotations dir, gray", true, FolderOptions{Height: 5, Width: 10, Gray: true}, 5, 10, 1,
			[]int{1*10 + 2, 1*10 + 3, 2*10 + 2, 2*10 + 3}, Box{Label: "square", XMin: 2, YMin: 1, XMax: 4, YMax: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ann := ""
			if tc.annDir {
				ann = filepath.Join(t.TempDir(), "Annotations")
				tc.opt.Annotations = ann
			}
			writeFolder(t, root, ann)
			d, err := ReadFolder(root, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if d.Len() != 3 || d.H != tc.h || d.W != tc.w || d.C != tc.c {
				t.Fatalf("got %d images %dx%dx%d", d.Len(), d.C, d.H, d.W)
			}
			if len(d.Classes) != 2 || d.Classes[0] != "cat" || d.Classes[1] != "dog" || d.Labels[0] != 0 || d.Labels[1] != 0 || d.Labels[2] != 1 {
				t.Fatalf("classes %v labels %v", d.Classes, d.Labels)
			}
			if d.Sources[1] != filepath.Join(root, "cat", "b.jpg") {
				t.Fatalf("sources %v", d.Sources)
			}
			if d.Masks[1] != nil || d.Boxes[1] != nil || d.Masks[2] != nil {
				t.Fatal("images without XML got ground truth")
			}
			if len(d.Boxes[0]) != 1 || d.Boxes[0][0] != tc.wantBox {
				t.Fatalf("boxes %+v, want %+v", d.Boxes[0], tc.wantBox)
			}
			want := tc.wantMask
			if want == nil {
				for y := 2; y < 6; y++ {
					for x := 4; x < 8; x++ {
						want = append(want, y*tc.w+x)
					}
				}
			}
			got := 0
			for _, b := range d.Masks[0] {
				if b {
					got++
				}
			}
			for _, i := range want {
				if !d.Masks[0][i] {
					t.Fatalf("mask pixel %d not set", i)
				}
			}
			if got != len(want) {
				t.Fatalf("mask has %d pixels, want %d", got, len(want))
			}
			// The mask matches the blue square in the image itself.
			if tc.c == 3 {
				img := d.Image(0)
				hw := d.H * d.W
				for i := 0; i < hw; i++ {
					blue := img[2*hw+i] > 0.5
					if blue != d.Masks[0][i] {
						t.Fatalf("pixel %d: blue=%v mask=%v", i, blue, d.Masks[0][i])
					}
				}
				// JPEG of a red image: red ~1, blue ~0.
				jp := d.Image(1)
				if math.Abs(float64(jp[0])-1) > 0.05 || jp[2*hw] > 0.05 {
					t.Fatalf("JPEG pixel R=%v B=%v", jp[0], jp[2*hw])
				}
			}
		})
	}
}

func TestReadFolderGray(t *testing.T) {
	root := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 4, 3))
	g.SetGray(1, 2, color.Gray{Y: 255})
	writeFile(t, filepath.Join(root, "x", "1.png"), pngBytes(t, g))
	writeFile(t, filepath.Join(root, "y", "2.PNG"), pngBytes(t, g))
	d, err := ReadFolder(root, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.C != 1 || d.H != 3 || d.W != 4 || d.Image(1)[2*4+1] != 1 || d.Image(1)[0] != 0 || d.Masks != nil {
		t.Fatalf("gray folder: C=%d %dx%d %v", d.C, d.H, d.W, d.Image(1))
	}
}

func TestReadFolderBad(t *testing.T) {
	good := func(t *testing.T) []byte { return pngBytes(t, testImage(20, 10, 0, 0, 1, 1)) }
	for _, tc := range []struct {
		name  string
		files map[string]func(t *testing.T) []byte
		want  []string
	}{
		{"corrupt png", map[string]func(*testing.T) []byte{
			"a/x.png": func(t *testing.T) []byte { b := good(t); return b[:len(b)/2] },
		}, []string{"a/x.png: corrupt png image"}},
		{"not an image", map[string]func(*testing.T) []byte{
			"a/x.png": func(*testing.T) []byte { return []byte("hello, world") },
		}, []string{"a/x.png: corrupt or unsupported image"}},
		{"corrupt jpeg", map[string]func(*testing.T) []byte{
			"a/x.jpg": func(t *testing.T) []byte { b := jpegBytes(t, testImage(20, 10, 0, 0, 1, 1)); return b[:len(b)-40] },
		}, []string{"a/x.jpg: corrupt jpeg image"}},
		{"box outside image", map[string]func(*testing.T) []byte{
			"a/x.png": good,
			"a/x.xml": func(*testing.T) []byte { return []byte(vocXMLText(20, 10, [5]string{"d", "1", "1", "25", "5"})) },
		}, []string{"a/x.xml: object 0:", "outside the 20x10 image"}},
		{"box outside image without size", map[string]func(*testing.T) []byte{
			"a/x.png": good,
			"a/x.xml": func(*testing.T) []byte {
				return []byte("<annotation><object><name>d</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>11</ymax></bndbox></object></annotation>")
			},
		}, []string{"a/x.xml: object 0:", "outside the 20x10 image"}},
		{"size mismatch", map[string]func(*testing.T) []byte{
			"a/x.png": good,
			"a/x.xml": func(*testing.T) []byte { return []byte(vocXMLText(30, 10)) },
		}, []string{"a/x.xml: <size> says 30x10 but the image is 20x10"}},
		{"malformed xml", map[string]func(*testing.T) []byte{
			"a/x.png": good,
			"a/x.xml": func(*testing.T) []byte { return []byte("<annotation><object>") },
		}, []string{"a/x.xml: malformed XML"}},
		{"empty class folder", map[string]func(*testing.T) []byte{
			"a/x.png":      good,
			"b/readme.txt": func(*testing.T) []byte { return nil },
		}, []string{"b: class folder has no PNG or JPEG images"}},
		{"no class folders", map[string]func(*testing.T) []byte{
			"x.png": good,
		}, []string{": no class sub-folders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for f, b := range tc.files {
				writeFile(t, filepath.Join(root, filepath.FromSlash(f)), b(t))
			}
			_, err := ReadFolder(root, FolderOptions{})
			want := append([]string(nil), tc.want...)
			want[0] = root + string(filepath.Separator) + filepath.FromSlash(want[0])
			if want[0][len(root)+1] == ':' {
				want[0] = root + want[0][len(root)+1:]
			}
			errContains(t, err, want...)
		})
	}
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := ReadFolder(missing, FolderOptions{})
	errContains(t, err, missing+": no such file or directory")
	_, err = ReadFolder(t.TempDir(), FolderOptions{Annotations: missing})
	errContains(t, err, missing+": no such file or directory")
}

func TestResizeBilinear(t *testing.T) {
	// A constant image stays constant; a 2x2 upscaled to 4x4 keeps its corners.
	in := []float32{0, 1, 1, 0}
	out := resizeBilinear(in, 1, 2, 2, 4, 4)
	if out[0] != 0 || out[3] != 1 || out[12] != 1 || out[15] != 0 {
		t.Fatalf("corners %v", out)
	}
	if out[1] != 0.25 {
		t.Fatalf("out[1] = %v, want 0.25", out[1])
	}
	c := resizeBilinear([]float32{0.3, 0.3, 0.3, 0.3, 0.3, 0.3}, 1, 2, 3, 5, 7)
	for _, v := range c {
		if math.Abs(float64(v)-0.3) > 1e-6 {
			t.Fatalf("constant image changed: %v", c)
		}
	}
}

func TestBoxMask(t *testing.T) {
	for _, tc := range []struct {
		name string
		box  Box
		want int
	}{
		{"whole", Box{XMin: 0, YMin: 0, XMax: 4, YMax: 3}, 12},
		{"centres", Box{XMin: 0.6, YMin: 0, XMax: 2.4, YMax: 1}, 1},
		{"tiny box keeps one pixel", Box{XMin: 1.1, YMin: 1.1, XMax: 1.2, YMax: 1.2}, 1},
		{"clipped", Box{XMin: -5, YMin: -5, XMax: 100, YMax: 100}, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			for _, b := range BoxMask([]Box{tc.box}, 3, 4) {
				if b {
					n++
				}
			}
			if n != tc.want {
				t.Fatalf("%d pixels, want %d", n, tc.want)
			}
		})
	}
}

package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/data"
)

func TestDataInfoMNISTMini(t *testing.T) {
	code, out, errs := arp(t, "data", "info", "mnist-mini")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"mnist-mini:train\n  images   2000, each 1x28x28",
		"mnist-mini:test\n  images   1000, each 1x28x28",
		"classes  10",
		"      7  7  205\n", // class 7 has 205 of the 2,000 training images
		"masks    2000 images",
		"boxes    1000 boxes on 1000 images",
		"min 0, max 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = arp(t, "data", "info", "mnist-mini", "--split", "all")
	if code != 0 || !strings.Contains(out, "images   3000") || strings.Contains(out, "mnist-mini:train") {
		t.Fatalf("--split all: exit %d\n%s", code, out)
	}
}

func TestDataCheck(t *testing.T) {
	code, out, _ := arp(t, "data", "check", "mnist-mini")
	if code != 0 || !strings.Contains(out, "mnist-mini:all: 3000 images, no problems") {
		t.Fatalf("exit %d: %s", code, out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "data_batch_1.bin")
	if err := os.WriteFile(bad, make([]byte, 3073*2+5), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := arp(t, "data", "check", dir)
	if code != 1 || !strings.Contains(out, bad+": record 2: file size 6151 is not a multiple") || !strings.HasPrefix(errs, "arp: ") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}

func TestDataFetch(t *testing.T) {
	// A fake source with the four MNIST files (taken from mnist-mini).
	src := t.TempDir()
	mini, err := data.MNISTMini("all")
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]byte, len(mini.Images))
	for i, v := range mini.Images {
		pix[i] = byte(v*255 + 0.5)
	}
	labels := make([]byte, mini.Len())
	for i, l := range mini.Labels {
		labels[i] = byte(l)
	}
	for _, pre := range []string{"train", "t10k"} {
		im, _ := os.Create(filepath.Join(src, pre+"-images-idx3-ubyte.gz"))
		lb, _ := os.Create(filepath.Join(src, pre+"-labels-idx1-ubyte.gz"))
		if err := data.EncodeIDX(im, lb, mini.Len(), 28, 28, pix, labels); err != nil {
			t.Fatal(err)
		}
		im.Close()
		lb.Close()
	}
	// Generated files are not the published ones: refused by digest,
	// nothing installed.
	dataDir := t.TempDir()
	code, out, errs := arp(t, "data", "fetch", "mnist", "--from", src, "--data-dir", dataDir)
	if code != 1 || !strings.Contains(errs, "arp: --from "+src+": "+filepath.Join(src, "train-images-idx3-ubyte.gz")+": SHA-256 ") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if ents, _ := os.ReadDir(dataDir); len(ents) != 0 {
		t.Fatalf("failed fetch left %v", ents)
	}
	// The real files (GoMNIST module) pass.
	real, err := data.MNISTSourceDir()
	if err != nil {
		t.Skip("GoMNIST module not available:", err)
	}
	code, out, errs = arp(t, "data", "fetch", "mnist", "--from", real, "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "mnist: 60000 train + 10000 test images in "+filepath.Join(dataDir, "mnist")) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	t.Setenv(data.DirEnv, dataDir)
	code, out, errs = arp(t, "data", "info", "mnist:test")
	if code != 0 || !strings.Contains(out, "mnist:test\n  images   10000") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = arp(t, "data", "fetch", "imagenet", "--data-dir", dataDir)
	if code != 1 || !strings.Contains(errs, `arp: cannot fetch "imagenet": known datasets are mnist, fashion-mnist, cifar-10, cifar-100`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// TestCommandGroupsRefuseUnknown: a command group given something that is
// not one of its subcommands fails with one line; alone it shows its help.
func TestCommandGroupsRefuseUnknown(t *testing.T) {
	for _, args := range [][]string{{"onnx", "model.onnx"}, {"data", "mnist"}, {"onnx", "inf"}} {
		code, out, errs := arp(t, args...)
		want := fmt.Sprintf("arp: unknown command %q for \"arp %s\"\n", args[1], args[0])
		if code != 1 || errs != want || out != "" {
			t.Errorf("arp %v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errs, want)
		}
	}
	code, out, _ := arp(t, "onnx")
	if code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("arp onnx: exit %d, %q", code, out)
	}
}

// TestDataImageNet: info and check on a miniature ILSVRC2012 validation
// folder (flat JPEGs, devkit ground truth, box XML files in ../val).
func TestDataImageNet(t *testing.T) {
	root := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 3; k++ {
		name := fmt.Sprintf("ILSVRC2012_val_%08d", k)
		writeTestFile(t, filepath.Join(root, "images", name+".JPEG"), jb.Bytes())
		writeTestFile(t, filepath.Join(root, "val", name+".xml"), []byte(`<annotation><size><width>80</width><height>60</height></size>
<object><name>n02119789</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>60</xmax><ymax>50</ymax></bndbox></object></annotation>`))
	}
	writeTestFile(t, filepath.Join(root, "ILSVRC2012_validation_ground_truth.txt"), []byte("1\n1\n449\n"))
	dir := filepath.Join(root, "images")
	code, out, errs := arp(t, "data", "info", dir)
	for _, want := range []string{"images   3, each 3x299x299", "preprocessing  inception: central crop 0.875 of each side, bilinear resize to 299x299", "classes  1000\n", "      0  tench", "    278  kit fox", "boxes    3 boxes on 3 images"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("info: exit %d, output lacks %q:\n%s%s", code, want, out, errs)
		}
	}
	code, out, errs = arp(t, "data", "info", dir, "--limit", "2")
	if code != 0 || !strings.Contains(out, "images   2, each 3x299x299") {
		t.Fatalf("info --limit: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = arp(t, "data", "check", dir)
	if code != 0 || !strings.Contains(out, "3 images, no problems") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
	writeTestFile(t, filepath.Join(root, "val", "ILSVRC2012_val_00000002.xml"), []byte(`<annotation><object><name>n02119789</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>90</xmax><ymax>50</ymax></bndbox></object></annotation>`))
	code, out, errs = arp(t, "data", "check", dir)
	if code != 1 || !strings.Contains(out, "ILSVRC2012_val_00000002.xml: object 0: box (10,10)-(90,50) of \"n02119789\" lies outside the 80x60 image") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = arp(t, "data", "info", dir, "--crop", "1.5")
	if code != 1 || errs != "arp: --crop 1.5: want a value in (0,1] (the central fraction of each side kept)\n" {
		t.Fatalf("exit %d %q", code, errs)
	}
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

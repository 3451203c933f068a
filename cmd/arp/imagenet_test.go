package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/onnx"
	"github.com/arp-robustness/arp/tensor"
)

// TestAnalyzeImageNetInception runs the paper's ImageNet analysis end to
// end on a miniature: a flat ILSVRC2012 validation folder with box XML
// files and the devkit's ground-truth file, and the Inception v3 fixture
// (1/16 width, 1001 logits) with background_classes 1. The ground truth is
// the model's own prediction, so every image is analysed.
func TestAnalyzeImageNetInception(t *testing.T) {
	if testing.Short() {
		t.Skip("Inception v3 at 299x299")
	}
	root := t.TempDir()
	images := filepath.Join(root, "images")
	for k := 1; k <= 3; k++ {
		w, h := 140+20*k, 110
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Set(x, y, color.RGBA{uint8(x * 7 * k), uint8(y * 5), uint8((x + y) * 3), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, nil); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("ILSVRC2012_val_%08d", k)
		writeTestFile(t, filepath.Join(images, name+".JPEG"), b.Bytes())
		writeTestFile(t, filepath.Join(root, "val", name+".xml"), []byte(fmt.Sprintf(`<annotation><size><width>%d</width><height>%d</height></size>
<object><name>n01440764</name><bndbox><xmin>30</xmin><ymin>20</ymin><xmax>%d</xmax><ymax>90</ymax></bndbox></object></annotation>`, w, h, w-40)))
	}
	model := filepath.Join(root, "adv_inception_v3.onnx")
	b, err := os.ReadFile("../../onnx/testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, model, b)
	writeTestFile(t, model+".json", []byte(`{"range": [-1, 1], "input_size": [3, 299, 299], "background_classes": 1, "attention_layer": "Mixed_7c"}`))

	// Ground truth = the model's predictions, as ILSVRC2012_IDs.
	d, err := data.Open(images, data.Options{Folder: data.FolderOptions{Labels: writeTestFileP(t, filepath.Join(root, "x.txt"), "1\n1\n1\n")}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnx.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := g.Run(autograd.Const(tensor.FromFloat32(d.Images, d.Len(), 3, 299, 299)))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	syn := data.ImageNetSynsets()
	for _, p := range tensor.ArgMax(y.Value(), 1) {
		ids = append(ids, fmt.Sprint(syn[p].ID))
	}
	writeTestFile(t, filepath.Join(root, "ILSVRC2012_validation_ground_truth.txt"), []byte(strings.Join(ids, "\n")+"\n"))

	out := filepath.Join(root, "analysis")
	code, stdout, stderr := arp(t, "analyze", "--model", model, "--data", images, "--attacks", "fgsm", "--eps", "0.0627",
		"--batch", "3", "--gallery", "0", "--quiet", "--out", out)
	if code != 0 || !strings.Contains(stdout, "3 of 3 images analysed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var h struct {
		Data struct {
			Classes       []string `json:"classes"`
			Truth         bool     `json:"truth"`
			Preprocessing string   `json:"preprocessing"`
		} `json:"data"`
	}
	hb, err := os.ReadFile(filepath.Join(out, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Data.Classes) != 1000 || !h.Data.Truth || h.Data.Preprocessing != "inception: central crop 0.875 of each side, bilinear resize to 299x299 (HxW)" {
		t.Fatalf("header data: %d classes, truth %v, preprocessing %q", len(h.Data.Classes), h.Data.Truth, h.Data.Preprocessing)
	}
	recs, err := os.ReadFile(filepath.Join(out, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Every record measures the attention against the boxes.
	if n := strings.Count(string(recs), "\n"); n != 3 || strings.Contains(string(recs), "skipped") {
		t.Fatalf("records:\n%s", recs)
	}
	// Without background_classes the 1001 logits do not match the 1000 classes.
	writeTestFile(t, model+".json", []byte(`{"range": [-1, 1]}`))
	code, _, stderr = arp(t, "analyze", "--model", model, "--data", images, "--attacks", "fgsm", "--quiet", "--out", out+"2")
	if code != 1 || !strings.Contains(stderr, "model has 1001 classes, dataset "+images+" has 1000") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func writeTestFileP(t *testing.T, path, s string) string {
	t.Helper()
	writeTestFile(t, path, []byte(s))
	return path
}

package viz

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"

	"github.com/arp-robustness/arp/checkpoint"
)

// EncodePNG encodes img as PNG bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding %dx%d image as PNG: %w", img.Bounds().Dx(), img.Bounds().Dy(), err)
	}
	return buf.Bytes(), nil
}

// DataURI returns PNG bytes as a data URI ("data:image/png;base64,...") for
// an <img src> in a self-contained HTML page.
func DataURI(pngBytes []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes)
}

// PNGDataURI encodes img as PNG and returns it as a data URI.
func PNGDataURI(img image.Image) (string, error) {
	b, err := EncodePNG(img)
	if err != nil {
		return "", err
	}
	return DataURI(b), nil
}

// WritePNG writes img to path as PNG atomically (checkpoint.AtomicWriteFile:
// readers see either the old file or the complete new one, also after a
// crash). The directory must exist.
func WritePNG(path string, img image.Image) error {
	b, err := EncodePNG(img)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return checkpoint.AtomicWriteFile(path, b, 0o644)
}

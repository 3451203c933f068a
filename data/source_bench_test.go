package data_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/data/datatest"
)

// BenchmarkSourceRead decodes ImageNet-sized JPEG photographs (500x375)
// to 299x299 with the Inception preprocessing, 16 at a time: the images
// per second it reports divided by GOMAXPROCS is the decode rate per core
// (go test -bench SourceRead -cpu 1,2 ./data).
func BenchmarkSourceRead(b *testing.B) {
	dir := b.TempDir()
	const n = 16
	r := rand.New(rand.NewPCG(1, 2))
	for j := 0; j < n; j++ {
		datatest.Write(b, filepath.Join(dir, datatest.ImageNetClasses(1)[0], "x_"+string(rune('a'+j))+".JPEG"),
			datatest.JPEG(b, datatest.Picture(r, 500, 375, j%3, j)))
	}
	s, err := data.OpenSource(dir, data.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Read(0, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "images/s")
}

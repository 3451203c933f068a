// Package viz draws the pictures of arp: colour-mapped attention maps,
// overlays on images, mask outlines, captioned side-by-side panels, grids,
// and PNG plots (line plots, overlaid histograms, bar charts with error
// bars) for reports.
//
// Images come in the project's layout: float32 CHW, row-major, values in
// [0, 1] (values outside are clamped, NaN is drawn as 0), with 1 channel
// (drawn as gray) or 3 (RGB). Attention maps are float32 row-major h x w and
// masks []bool of the same layout, as in package mask.
//
// Pictures are built by composing small steps:
//
//	base, _ := viz.ToImage(img, c, h, w)          // CHW float -> RGBA
//	over, _ := viz.Overlay(img, c, h, w, m, 0.6, viz.Jet)
//	big := viz.Scale(over, 4)                     // 28x28 MNIST -> 112x112
//	big = viz.Outline(big, mask.Upsample(b, h, w, 4*h, 4*w), viz.White)
//	panel := viz.Panel(
//		viz.Captioned{Image: viz.Scale(base, 4), Caption: "clean"},
//		viz.Captioned{Image: big, Caption: "map and mask"})
//	_ = viz.WritePNG("panel.png", panel)
//
// Overlay weights the colour of each pixel by the normalised map value, so
// pixels the model ignores keep the image and attended pixels take the colour
// map: out = (1 - alpha*v)*image + alpha*v*colour(v). ColorBar puts the
// colour scale under such a picture, labelled with the map's range
// (MapRange), which the normalisation hides.
//
// # Errors and panics
//
// The channel count of an image depends on the data set, so ToImage and
// Overlay return an error for a channel count other than 1 or 3 or a slice
// of the wrong length; plots return errors for series whose X and Y lengths
// differ or for empty data; WritePNG reports the path it failed to write.
// Heatmap and Outline, which take sizes that the caller computed itself,
// panic on a length mismatch with a message naming the function and sizes.
//
// Text uses the fixed 7x13 bitmap face of golang.org/x/image/font/basicfont
// (ASCII and Latin-1); plots use gonum.org/v1/plot with its embedded
// Liberation Sans (FontFamily), the typeface the report's page names first.
package viz

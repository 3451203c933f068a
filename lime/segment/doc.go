// Package segment splits images into superpixels for LIME.
//
// Images are float32, CHW (channels, height, width), row-major, with 1 or 3
// channels and values in [0,1]. Colour images are converted to CIELAB (sRGB,
// D65 white) before clustering; gray images use their intensity scaled by 100
// so that the same compactness and distance settings apply to both (L* also
// runs from 0 to 100).
//
// Two algorithms are provided:
//
//   - SLIC (Achanta et al. 2012): k-means in colour and position space,
//     initialised on a regular grid, restricted to a 2S x 2S window around
//     each centre.
//   - Quickshift (Vedaldi & Soatto 2008), as in scikit-image: each pixel is
//     linked to the nearest pixel of higher Parzen density inside a window;
//     the roots of the resulting forest are the segments.
//
// Both return a [Segmentation] whose labels run from 0 to K-1, cover every
// pixel, and form 4-connected regions: after clustering, every 4-connected
// piece becomes its own superpixel, and small or orphan pieces are merged
// into the neighbouring superpixel with which they share the longest border.
// [Validate] and [Connected] check these properties for any label map.
package segment

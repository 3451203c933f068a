package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/limits"
	"github.com/spf13/cobra"
)

func init() { register(newDataCmd) }

func newDataCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Fetch, inspect and validate datasets",
		Long: `Fetch, inspect and validate datasets.

A dataset is a name (` + strings.Join(data.Names(), ", ") + `),
optionally with a split suffix (:train, :test, :all), or a path: a directory of
MNIST-style IDX files, a CIFAR-10/100 binary directory, or an image folder with
one sub-folder per class (PNG/JPEG, optional Pascal VOC XML boxes).
"mnist-mini" is built into arp: 3,000 real MNIST test images (train = first
2,000, test = last 1,000).`,
	}
	cmd.AddCommand(newDataFetchCmd(g), newDataInfoCmd(g), newDataCheckCmd(g))
	return cmd
}

func newDataFetchCmd(g *globalOptions) *cobra.Command {
	var from string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "fetch NAME...",
		Short: "Download " + strings.Join(data.FetchNames(), ", ") + " into the data directory",
		Long: `Install datasets into the data directory (--data-dir, $ARP_DATA_DIR, or arp in
the user cache directory). Known names: ` + strings.Join(data.FetchNames(), ", ") + `.

A copy on this machine is used first (mnist: the GoMNIST module in the Go
module cache; fashion-mnist: Debian's dataset-fashion-mnist), otherwise the
files are downloaded over HTTPS from the published mirrors in order
(CIFAR: the binary versions from www.cs.toronto.edu). Every file is checked
against its published SHA-256 before it is unpacked, failed downloads are
retried with backoff, an interrupted download resumes where it stopped
(partial files wait in <data dir>/` + data.StagingDir + `), and the dataset folder
appears only when it is complete. --from DIR|URL takes the published files
(same names) from an offline copy or another server instead.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := g.DataDir()
			if err != nil {
				return err
			}
			for _, name := range args {
				if !slices.Contains(data.FetchNames(), name) {
					return fmt.Errorf("cannot fetch %q: known datasets are %s", name, strings.Join(data.FetchNames(), ", "))
				}
			}
			errw := cmd.ErrOrStderr()
			for _, name := range args {
				opt := data.FetchOptions{From: from, Log: func(f string, a ...any) { fmt.Fprintf(errw, f+"\n", a...) }}
				if !quiet {
					opt.Progress = downloadBar(errw)
				}
				dst, err := data.Fetch(cmd.Context(), name, dir, opt)
				if err != nil {
					return err
				}
				var counts []string
				for _, split := range []string{"train", "test"} {
					d, err := data.OpenSource(name+":"+split, data.Options{DataDir: dir}) // counts: nothing decoded
					if err != nil {
						return err
					}
					counts = append(counts, fmt.Sprintf("%d %s", d.Len(), split))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s images in %s\n", name, strings.Join(counts, " + "), dst)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "take the published files from this directory or http(s) URL instead of the default sources")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

// downloadBar shows the progress of each file's download on w (see
// progress); a resumed download counts its rate from where it resumed.
func downloadBar(w io.Writer) data.Progress {
	p := newProgress(w)
	cur := ""
	return func(file string, done, total, resumed int64) {
		if file != cur {
			cur = file
			p.Start(file, "bytes", resumed, total)
		}
		p.Report(file, "bytes", done, total, "")
		if total > 0 && done >= total {
			p.Done()
		}
	}
}

// openFlags are the dataset options shared by info and check.
type openFlags struct {
	split       string
	coarse      bool
	size        string
	gray        bool
	annotations string
	labels      string
	crop        float64
	limit       int
	cropGiven   bool // --crop was typed (0 is not a fraction, never "the default")
}

func (f *openFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.split, "split", "", "split: train, test or all (same as a :split suffix)")
	cmd.Flags().BoolVar(&f.coarse, "coarse", false, "CIFAR-100: use the 20 coarse labels")
	cmd.Flags().StringVar(&f.size, "size", "", "image folders: resize every image to HxW (default: the first image's size)")
	cmd.Flags().BoolVar(&f.gray, "gray", false, "image folders: load as one grayscale channel")
	cmd.Flags().StringVar(&f.annotations, "annotations", "", "image folders: directory of Pascal VOC XML files (default: next to each image; ImageNet validation folders also look in ../val and Annotations/CLS-LOC/val)")
	cmd.Flags().StringVar(&f.labels, "labels", "", "flat ImageNet validation folders: ground-truth file (ILSVRC2012_IDs or WordNet IDs, one per image; default: found next to the folder)")
	cmd.Flags().IntVar(&f.limit, "limit", 0, "image folders: load only the first N images (0: all; ImageNet's 50,000 need 53.6 GB decoded)")
	cmd.Flags().Float64Var(&f.crop, "crop", 0, "image folders: keep this central fraction of each side before resizing (default: none; ImageNet layouts 0.875 with --size 299x299)")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) { f.cropGiven = cmd.Flags().Changed("crop") }
}

func (f *openFlags) options(g *globalOptions) (data.Options, error) {
	opt := data.Options{DataDir: g.dataDir, Split: f.split, Coarse: f.coarse}
	opt.Folder.Gray = f.gray
	opt.Folder.Annotations = f.annotations
	opt.Folder.Labels = f.labels
	if f.cropGiven {
		if err := limits.Float("--crop", f.crop, 0, 1, true, "the central fraction of each side kept"); err != nil {
			return opt, err
		}
	}
	opt.Folder.CropFraction = f.crop
	if err := limits.Int("--limit", f.limit, 0, limits.MaxInt, "a number of images; 0: all"); err != nil {
		return opt, err
	}
	opt.Folder.Limit = f.limit
	if f.size != "" {
		h, w, ok := parseSize(f.size)
		if !ok {
			return opt, fmt.Errorf("--size %q: want HxW with sides of 1 to %d pixels, e.g. 224x224", f.size, maxSide)
		}
		opt.Folder.Height, opt.Folder.Width = h, w
	}
	return opt, nil
}

func parseSize(s string) (h, w int, ok bool) {
	a, b, found := strings.Cut(strings.ToLower(s), "x")
	if !found {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(a)
	w, err2 := strconv.Atoi(b)
	return h, w, err1 == nil && err2 == nil && h > 0 && w > 0 && h <= maxSide && w <= maxSide
}

// maxSide bounds --size (an image of 16384x16384 pixels is 3 GB decoded).
const maxSide = 1 << 14

func newDataInfoCmd(g *globalOptions) *cobra.Command {
	var f openFlags
	cmd := &cobra.Command{
		Use:   "info NAME|PATH",
		Short: "Show counts, classes, shape, value range and ground truth of a dataset",
		Long: `Show counts, classes with per-class counts, shape, value range and the
ground-truth masks and boxes of a dataset. Without a split, every split of a
dataset that has them is shown.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options(g)
			if err != nil {
				return err
			}
			specs := []string{args[0]}
			if opt.Split == "" {
				splits, err := data.Splits(args[0], opt)
				if err != nil {
					return err
				}
				if len(splits) > 0 && !strings.ContainsRune(args[0], ':') {
					specs = nil
					for _, s := range splits {
						specs = append(specs, args[0]+":"+s)
					}
				}
			}
			for i, spec := range specs {
				d, err := data.Open(spec, opt)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				printSummary(cmd.OutOrStdout(), d.Summary())
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func printSummary(w io.Writer, s data.Summary) {
	fmt.Fprintf(w, "%s\n", s.Name)
	fmt.Fprintf(w, "  images   %d, each %dx%dx%d (CxHxW), float32 NCHW\n", s.N, s.C, s.H, s.W)
	fmt.Fprintf(w, "  values   min %.4g, max %.4g, mean %.4g (stored range [0,1])\n", s.Min, s.Max, s.Mean)
	if s.Preprocessing != "" {
		fmt.Fprintf(w, "  preprocessing  %s\n", s.Preprocessing)
	}
	fmt.Fprintf(w, "  classes  %d\n", len(s.Classes))
	width := 0
	for _, c := range s.Classes {
		width = max(width, len(c))
	}
	for i, c := range s.Classes {
		if len(s.Classes) > 100 && s.ClassCounts[i] == 0 {
			continue // ImageNet subsets: only the classes present
		}
		fmt.Fprintf(w, "    %3d  %-*s  %d\n", i, width, c, s.ClassCounts[i])
	}
	if s.WithMask == 0 && s.BoxCount == 0 {
		fmt.Fprintf(w, "  ground truth  none\n")
		return
	}
	fmt.Fprintf(w, "  masks    %d images, mean area %.1f%% of the image\n", s.WithMask, 100*s.MaskArea)
	fmt.Fprintf(w, "  boxes    %d boxes on %d images\n", s.BoxCount, s.WithBoxes)
}

func newDataCheckCmd(g *globalOptions) *cobra.Command {
	var f openFlags
	cmd := &cobra.Command{
		Use:   "check NAME|PATH",
		Short: "Validate every record of a dataset and list every problem",
		Long: `Validate every record of a dataset (all splits unless one is given) and list
each problem with its file and record index. Exits non-zero if there is any.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options(g)
			if err != nil {
				return err
			}
			r, err := data.Check(args[0], opt)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, p := range r.Problems {
				fmt.Fprintln(w, p)
			}
			n := len(r.Problems) + r.Omitted
			if r.Omitted > 0 {
				fmt.Fprintf(w, "... and %d more problems\n", r.Omitted)
			}
			if n > 0 {
				return fmt.Errorf("%s: %d problem(s) found", args[0], n)
			}
			fmt.Fprintf(w, "%s: %d images, no problems\n", r.Name, r.Images)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// normName is how reports write a norm.
func normName(n string) string {
	if n == "l2" {
		return "L2"
	}
	return "L-inf"
}

func fmtList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.4g", x)
	}
	return strings.Join(s, "/")
}

// ImagesLine says which images were evaluated, stating any limit.
func (r *Report) ImagesLine() string {
	if s := r.Subset; s != nil {
		return fmt.Sprintf("%d of the %d images of %s chosen by seed %d (--subset %d --subset-seed %d: the same images for every model evaluated so)", r.Images, r.DataImages, r.Data, s.Seed, s.N, s.Seed)
	}
	if r.Images < r.DataImages {
		return fmt.Sprintf("the first %d of %d images of %s (--limit %d: a subset, not the whole set)", r.Images, r.DataImages, r.Data, r.Images)
	}
	return fmt.Sprintf("all %d images of %s", r.Images, r.Data)
}

// ModeLine explains the mode and what per-attack accuracy means.
func (r *Report) ModeLine() string {
	if r.Mode == "standalone" {
		return "standalone: every attack attacks every correctly classified image; per-attack accuracy is that attack's alone"
	}
	return "cascade: each attack only attacks the images all earlier attacks failed on; per-attack accuracy is the robust accuracy after that attack and all earlier ones"
}

// ThreatLines states the threat models: norms, budgets on both scales,
// access, steps, restarts, step sizes and the seed.
func (r *Report) ThreatLines() []string {
	var out []string
	scale := "unknown (the model does not state its input normalisation)"
	if r.Scale.Known {
		scale = fmt.Sprintf("(x - %s) / %s", fmtList(r.Scale.Mean), fmtList(r.Scale.Std))
	}
	out = append(out, "model input scale: "+scale+"; budgets are given on the [0,1] pixel scale")
	for _, t := range r.Threats {
		in := "unknown"
		if t.EpsInput != nil {
			in = fmtList(t.EpsInput)
		}
		boxes := map[string]bool{}
		for _, a := range t.Attacks {
			boxes[setting(a, "box")] = true
		}
		var bs []string
		for _, b := range []string{"white-box", "black-box"} {
			if boxes[b] {
				bs = append(bs, b)
			}
		}
		out = append(out, fmt.Sprintf("%s eps %.4g on [0,1] = %s on the model's input scale; %s", normName(t.Norm), t.Eps, in, strings.Join(bs, " and ")))
	}
	out = append(out, fmt.Sprintf("seed %d (each image draws, per attack and budget, from its own stream derived from it and the image's index)", r.Seed))
	return out
}

func fmtSetting(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.4g", f)
	}
	return fmt.Sprint(v)
}

// settingsSummary lists every attack's settings once per norm: a key
// whose value differs between budgets (eps, step size) shows each value,
// in the order of the budgets.
func (r *Report) settingsSummary() []string {
	var out []string
	for _, norm := range []string{"linf", "l2"} {
		var ts []Threat
		for _, t := range r.Threats {
			if t.Norm == norm {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			continue
		}
		for k, a := range ts[0].Attacks {
			var keys []string
			for key := range a.Settings {
				if key != "attack" && key != "seed_derivation" {
					keys = append(keys, key)
				}
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, key := range keys {
				vals := []string{fmtSetting(a.Settings[key])}
				same := true
				for _, t := range ts[1:] {
					v := fmtSetting(t.Attacks[k].Settings[key])
					same = same && v == vals[0]
					vals = append(vals, v)
				}
				if same {
					vals = vals[:1]
				}
				parts[i] = key + "=" + strings.Join(vals, "/")
			}
			out = append(out, fmt.Sprintf("%s (%s): %s", a.Spec, normName(norm), strings.Join(parts, " ")))
		}
	}
	return out
}

func pctf(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

// Text writes the report as aligned plain text for the terminal.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "model %s, data %s\n", r.Model, r.Data)
	fmt.Fprintf(&b, "images: %s\n", r.ImagesLine())
	fmt.Fprintf(&b, "mode: %s\n", r.ModeLine())
	for _, l := range r.ThreatLines() {
		fmt.Fprintf(&b, "threat model: %s\n", l)
	}
	fmt.Fprintf(&b, "clean accuracy: %s (%d/%d)\n", pctf(r.Clean.Accuracy), r.Clean.Correct, r.Clean.Total)
	for _, t := range r.Threats {
		fmt.Fprintf(&b, "\n%s eps %.4g\n", normName(t.Norm), t.Eps)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "attack\taccuracy\tsuccess\tattacked\tmean/max L-inf\tmean/max L2\tseconds\t")
		for _, a := range t.Attacks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.4f/%.4f\t%.3f/%.3f\t%.1f\t\n", a.Spec, pctf(a.Accuracy.Accuracy), pctf(a.SuccessRate), a.Attacked,
				a.MeanLinf, a.MaxLinf, a.MeanL2, a.MaxL2, a.Seconds)
		}
		fmt.Fprintf(tw, "worst case\t%s\t\t\t\t\t\t\n", pctf(t.Worst.Accuracy))
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nattack settings (values that depend on eps are listed per eps):\n")
	for _, l := range r.settingsSummary() {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, "\nsanity checks (evaluation.md):\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-4s  %s: %s\n", c.Status, c.Name, c.Detail)
	}
	if n := len(r.Warnings()); n > 0 {
		fmt.Fprintf(&b, "\nWARNING: %d sanity check(s) failed; read the numbers above with care.\n", n)
	}
	if r.Resumed > 0 {
		fmt.Fprintf(&b, "(%d units were read back from the state file)\n", r.Resumed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown writes the report as a Markdown document.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Robustness of %s on %s\n\n", r.Model, r.Data)
	fmt.Fprintf(&b, "- Images: %s\n", r.ImagesLine())
	fmt.Fprintf(&b, "- Mode: %s\n", r.ModeLine())
	for _, l := range r.ThreatLines() {
		fmt.Fprintf(&b, "- Threat model: %s\n", l)
	}
	fmt.Fprintf(&b, "- Clean accuracy: %s (%d/%d)\n", pctf(r.Clean.Accuracy), r.Clean.Correct, r.Clean.Total)
	fmt.Fprintf(&b, "- Started %s, %.0f s\n", r.Started.Format("2006-01-02 15:04:05 UTC"), r.Seconds)
	if r.Version != "" {
		fmt.Fprintf(&b, "- arp %s\n", r.Version)
	}
	for _, t := range r.Threats {
		fmt.Fprintf(&b, "\n## %s eps %.4g\n\n", normName(t.Norm), t.Eps)
		fmt.Fprintf(&b, "| attack | accuracy | success rate | attacked | mean L-inf | max L-inf | mean L2 | max L2 | seconds |\n")
		fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
		for _, a := range t.Attacks {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %d | %.4f | %.4f | %.3f | %.3f | %.1f |\n", a.Spec, pctf(a.Accuracy.Accuracy), pctf(a.SuccessRate), a.Attacked,
				a.MeanLinf, a.MaxLinf, a.MeanL2, a.MaxL2, a.Seconds)
		}
		fmt.Fprintf(&b, "| **worst case** | **%s** | | | | | | | |\n", pctf(t.Worst.Accuracy))
	}
	fmt.Fprintf(&b, "\n## Attack settings\n\nValues that depend on eps are listed per eps.\n\n")
	for _, l := range r.settingsSummary() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "\n## Sanity checks\n\n| check | status | detail |\n|---|---|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, c.Status, strings.ReplaceAll(c.Detail, "|", "\\|"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Package report renders arp runs as one self-contained HTML page: what was
// trained and how, the robustness evaluation (tables, sanity checks,
// accuracy against eps), the training curves, the attention-under-attack
// statistics with their verdicts and plots, and galleries of examples.
//
// Several runs side by side (an adversarially trained baseline against an
// ARP model, say) is the main use: every table has one column per run.
//
// A run is a directory written by arp train (model.json, model.safetensors,
// metrics.jsonl) to which arp eval --json RUN/eval.json and arp analyze
// (RUN/analysis/) add their results; an analysis directory on its own works
// too. Load reads them, notes what is missing (the sections that need it are
// skipped) and refuses to compare runs evaluated on different datasets
// unless asked to; Write renders the page. Everything the page shows is
// inside it: the style sheet is inline, every image and plot is a PNG data:
// URI, the plots' typeface is embedded as a WOFF data: URI, and its Content
// Security Policy blocks any request elsewhere.
package report

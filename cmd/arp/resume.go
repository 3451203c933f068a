package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/train"
	"github.com/spf13/pflag"
)

// The flags of arp train are recorded with the run (in its checkpoint and
// model.json), so that arp train --resume continues it with the same ones.

// notRecorded are the flags that do not affect what a run computes; all
// others are stored with the run and restored by --resume.
var notRecorded = map[string]bool{"out": true, "resume": true, "force": true, "quiet": true, "help": true}

// recordFlags returns the value of every flag that affects what a run
// computes.
func recordFlags(fl *pflag.FlagSet) map[string]string {
	command := map[string]string{}
	fl.VisitAll(func(p *pflag.Flag) {
		if !notRecorded[p.Name] {
			command[p.Name] = p.Value.String()
		}
	})
	return command
}

// restoreFlags sets every recorded flag the user did not give from the
// checkpoint's record; --steps and --epochs go together.
func restoreFlags(fl *pflag.FlagSet, rec map[string]string) error {
	if len(rec) == 0 {
		return fmt.Errorf("the checkpoint records no command-line flags (not written by arp train?)")
	}
	extending := fl.Changed("steps") || fl.Changed("epochs")
	names := slices.Sorted(maps.Keys(rec))
	for _, name := range names {
		if fl.Changed(name) || notRecorded[name] || (extending && (name == "steps" || name == "epochs")) {
			continue
		}
		if fl.Lookup(name) == nil {
			continue // a flag of another arp version
		}
		if err := fl.Set(name, rec[name]); err != nil {
			return fmt.Errorf("recorded flag --%s %q: %v", name, rec[name], err)
		}
	}
	return nil
}

// resumeFlags reads the checkpoint of the run in dir and sets the flags it
// records (see restoreFlags), when resuming (else it returns nil).
func resumeFlags(fl *pflag.FlagSet, dir string, resume bool) (*train.Checkpoint, error) {
	if !resume {
		return nil, nil
	}
	ck, err := train.ReadRunCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	if err := restoreFlags(fl, ck.Record.Command); err != nil {
		return nil, fmt.Errorf("%s/%s: %v", dir, rundir.Checkpoint, err)
	}
	return ck, nil
}

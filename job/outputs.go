package job

import (
	"fmt"

	"github.com/arp-robustness/arp/checkpoint"
)

// Output names a file or directory a command writes and the flag that
// names it.
type Output struct {
	Flag, Path string
	Dir        bool // a directory (created if needed), not a file
}

// CheckOutputs checks, before any work, that every output can be written
// (checkpoint.CanWrite, CanWriteDir); empty paths are skipped. The error
// names the flag: "--json out/r.json: directory out does not exist".
func CheckOutputs(outs ...Output) error {
	for _, o := range outs {
		if o.Path == "" {
			continue
		}
		check := checkpoint.CanWrite
		if o.Dir {
			check = checkpoint.CanWriteDir
		}
		if err := check(o.Path); err != nil {
			return fmt.Errorf("--%s %w", o.Flag, err)
		}
	}
	return nil
}

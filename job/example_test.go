package job_test

import (
	"fmt"

	"github.com/arp-robustness/arp/job"
	"github.com/spf13/pflag"
)

func Example() {
	var j job.Eval
	fs := pflag.NewFlagSet("eval", pflag.ContinueOnError)
	j.Flags(fs)
	if err := fs.Parse([]string{"--model", "runs/arp", "--data", "mnist", "--eps", "0.1,0.3", "--shard", "2/8", "--state", "shard-2.jsonl"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := j.Check(); err != nil {
		fmt.Println(err)
		return
	}
	s, _ := j.ShardSpec()
	fmt.Println(j.Attacks, j.Eps, s, j.State)
	// Output:
	// [fgsm step-ll r-step-ll iter-ll pgd:restarts=5 square] [0.1 0.3] 2/8 shard-2.jsonl
}

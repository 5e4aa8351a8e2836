package harness

import (
	"os"
	"time"

	"github.com/faultline/faultline/harness/host"
)

// HostSampleEvery is how often the runner samples the machine's CPU.
const HostSampleEvery = 250 * time.Millisecond

// watchHost starts sampling how busy the machine is with work outside the
// run (the harness process, the bank's processes and their descendants)
// and returns the function that stops it and gives the samples.
func (s *suite) watchHost() func() ([]host.Sample, error) {
	self := os.Getpid()
	sm, err := host.Start(s.hist.Now, HostSampleEvery, func() []int { return []int{self} })
	if err != nil {
		return func() ([]host.Sample, error) { return nil, err }
	}
	return sm.Stop
}

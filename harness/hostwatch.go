package harness

import (
	"os"
	"time"

	"github.com/faultline/faultline/harness/host"
)

// HostSampleEvery is how often the runner samples the machine's CPU.
const HostSampleEvery = 250 * time.Millisecond

// runProcesses is a platform whose instances run as host processes that are
// not the harness's own descendants (a kind node's containers): it names
// their roots, so that their CPU counts as the run's and not as other work.
type runProcesses interface {
	HostPIDs() []int
}

// watchHost starts sampling how busy the machine is with work outside the
// run (the harness process, the bank's processes and their descendants)
// and returns the function that stops it and gives the samples.
func (s *suite) watchHost() func() ([]host.Sample, error) {
	roots := func() []int {
		pids := []int{os.Getpid()}
		if rp, ok := any(s.plat).(runProcesses); ok {
			pids = append(pids, rp.HostPIDs()...)
		}
		return pids
	}
	sm, err := host.Start(s.hist.Now, HostSampleEvery, roots)
	if err != nil {
		return func() ([]host.Sample, error) { return nil, err }
	}
	return sm.Stop
}

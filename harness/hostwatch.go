package harness

import (
	"os"
	"sync"
	"time"

	"github.com/faultline/faultline/groundwork/host"
	"github.com/faultline/faultline/groundwork/platform"
)

// HostSampleEvery is how often the runner samples the machine's CPU.
const HostSampleEvery = 250 * time.Millisecond

// watchHost starts sampling how busy the machine is with work outside the
// run (the harness process and its descendants, and the processes the
// platform names as the bank's: a kind cluster's nodes)
// and returns the function that stops it and gives the samples.
func (s *suite) watchHost() func() ([]host.Sample, error) {
	sm, err := host.Start(s.hist.Now, HostSampleEvery, s.runRoots())
	if err != nil {
		return func() ([]host.Sample, error) { return nil, err }
	}
	return sm.Stop
}

// hostPIDsEvery is how often the platform is asked again for its processes
// on this machine: a node that a fault restarted has a new one.
const hostPIDsEvery = 2 * time.Second

// runRoots returns the function that gives the run's root processes: the
// harness, and what the platform names (asked at most every hostPIDsEvery;
// a kind node's first process changes when the node is lost and booted,
// and its pods would otherwise count as other work).
func (s *suite) runRoots() func() []int {
	hp, ok := s.plat.(platform.HostProcesses)
	if !ok {
		roots := []int{os.Getpid()}
		return func() []int { return roots }
	}
	var (
		mu    sync.Mutex
		roots []int
		asked time.Time
	)
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(asked) >= hostPIDsEvery {
			roots, asked = append([]int{os.Getpid()}, hp.HostPIDs()...), time.Now()
		}
		return roots
	}
}

// Package host measures how busy the machine running the harness is with
// work that is not the run's own: a build, a second suite, a CPU burner.
// Latency is the first thing such work spoils, so the judge uses these
// figures to say "unknown: the host was busy" instead of blaming the bank
// for a miss the host may have caused.
package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Sample is the CPU time the machine spent between the previous sample and
// At, in clock ticks: Others is what processes outside the run used, Total
// what the machine had (every CPU, busy or idle).
type Sample struct {
	At     time.Duration `json:"at"` // offset from the run's start
	Others uint64        `json:"others"`
	Total  uint64        `json:"total"`
	// Steal is the part of Others the hypervisor took for other machines
	// (a noisy neighbour): this machine's own processes never ran then.
	Steal uint64 `json:"steal,omitempty"`
	// Top names the processes outside the run that used the most CPU in
	// the interval (at most TopN, by command name), so that a busy window
	// says what kept the host busy. The rest of Others is steal and
	// processes that started and exited between samples.
	Top []Use `json:"top,omitempty"`
}

// Use is the CPU ticks that processes of one command name used.
type Use struct {
	Name  string `json:"name"`
	Ticks uint64 `json:"ticks"`
}

// TopN is how many of the busiest outside processes a Sample names.
const TopN = 3

// Who sums the outside processes' CPU over [from, to) by command name,
// busiest first, each as a share of the machine's CPU in that span.
func Who(samples []Sample, from, to time.Duration) []Share {
	ticks := map[string]uint64{}
	var total uint64
	for _, s := range samples {
		if s.At > from && s.At <= to {
			total += s.Total
			for _, u := range s.Top {
				ticks[u.Name] += u.Ticks
			}
		}
	}
	if total == 0 {
		return nil
	}
	var out []Share
	for name, t := range ticks {
		out = append(out, Share{Name: name, Share: float64(t) / float64(total)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Share != out[j].Share {
			return out[i].Share > out[j].Share
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Share is the share of the machine's CPU that processes of one command
// name used.
type Share struct {
	Name  string
	Share float64
}

// Stolen is the share of the machine's CPU the hypervisor took over
// [from, to), from the samples that fall in it.
func Stolen(samples []Sample, from, to time.Duration) float64 {
	f, _ := share(samples, from, to, func(s Sample) uint64 { return s.Steal })
	return f
}

// Busy is the share of the machine's CPU that processes outside the run
// used over [from, to), from the samples that fall in it, and whether any
// did.
func Busy(samples []Sample, from, to time.Duration) (float64, bool) {
	return share(samples, from, to, func(s Sample) uint64 { return s.Others })
}

// share sums part and the machine's capacity over the samples taken in
// (from, to] and returns their ratio, and whether there were any.
func share(samples []Sample, from, to time.Duration, part func(Sample) uint64) (float64, bool) {
	var sum, total uint64
	for _, s := range samples {
		if s.At > from && s.At <= to {
			sum += part(s)
			total += s.Total
		}
	}
	if total == 0 {
		return 0, false
	}
	return float64(sum) / float64(total), true
}

// Sampler samples the machine's CPU every interval until stopped. The run's
// own processes are the roots it is given and all their descendants; the
// rest of the machine is "others".
type Sampler struct {
	proc  string // the proc filesystem, /proc
	roots func() []int
	now   func() time.Duration

	mu      sync.Mutex
	samples []Sample
	err     error

	lastTotal, lastBusy, lastSteal uint64
	lastOurs                       map[int]uint64 // per process of the run: utime+stime
	lastKernel                     map[int]uint64 // per kernel thread: utime+stime
	lastOthers                     map[int]uint64 // per process outside the run: utime+stime
	stop                           context.CancelFunc
	done                           chan struct{}
}

// Start samples the CPU every interval until Stop. now gives the offset
// from the run's start that samples are stamped with; roots gives the
// run's own process IDs (descendants are added). It fails when /proc
// cannot be read, so that callers can record why there are no samples.
func Start(now func() time.Duration, interval time.Duration, roots func() []int) (*Sampler, error) {
	return start("/proc", now, interval, roots)
}

func start(proc string, now func() time.Duration, interval time.Duration, roots func() []int) (*Sampler, error) {
	s := &Sampler{proc: proc, roots: roots, now: now, done: make(chan struct{})}
	if err := s.take(false); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.take(true); err != nil {
					s.mu.Lock()
					s.err = err
					s.mu.Unlock()
					return
				}
			}
		}
	}()
	return s, nil
}

// Stop ends sampling and returns every sample, or the error that stopped
// sampling early (with the samples taken until then).
func (s *Sampler) Stop() ([]Sample, error) {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.err
}

// Samples returns the samples taken so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// take reads the machine's and the run's CPU time and, when record is set,
// appends the difference since the last reading: the machine's process
// time (user, nice, system, steal) less the run's processes' and the
// kernel threads'. Interrupt and softirq time and the kernel threads (I/O
// completion, writeback) are left out: they are mostly the run's own
// network and disk traffic, and no process is charged for them. A process
// of the run that exited between readings loses its last interval's CPU to
// "others"; at a sampling interval well under a second, that is noise.
func (s *Sampler) take(record bool) error {
	at := s.now()
	total, busy, steal, err := machineCPU(s.proc)
	if err != nil {
		return err
	}
	ours, kernel, outside, err := s.processes()
	if err != nil {
		return err
	}
	if record {
		mine := delta(ours, s.lastOurs) + delta(kernel, s.lastKernel)
		busyDelta := busy - s.lastBusy
		others := uint64(0)
		if busyDelta > mine {
			others = busyDelta - mine
		}
		s.mu.Lock()
		s.samples = append(s.samples, Sample{At: at, Others: others, Total: total - s.lastTotal, Steal: min(others, steal-s.lastSteal),
			Top: top(outside, s.lastOthers)})
		s.mu.Unlock()
	}
	s.lastTotal, s.lastBusy, s.lastSteal, s.lastOurs, s.lastKernel = total, busy, steal, ours, kernel
	s.lastOthers = map[int]uint64{}
	for pid, p := range outside {
		s.lastOthers[pid] = p.cpu
	}
	return nil
}

// top returns the TopN command names whose processes used the most CPU
// since last (processes first seen now count from 0: they started in the
// interval, or were too quick to see before).
func top(now map[int]named, last map[int]uint64) []Use {
	by := map[string]uint64{}
	for pid, p := range now {
		prev := last[pid]
		if p.cpu > prev {
			by[p.name] += p.cpu - prev
		}
	}
	var out []Use
	for name, t := range by {
		out = append(out, Use{Name: name, Ticks: t})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ticks != out[j].Ticks {
			return out[i].Ticks > out[j].Ticks
		}
		return out[i].Name < out[j].Name
	})
	return out[:min(len(out), TopN)]
}

// delta is the CPU the processes in now used since last.
func delta(now, last map[int]uint64) uint64 {
	var d uint64
	for pid, t := range now {
		prev, seen := last[pid]
		switch {
		case !seen:
			d += t // started since the last reading (or too fast to see before)
		case t >= prev:
			d += t - prev
		}
	}
	return d
}

// machineCPU reads the first line of /proc/stat: the ticks every CPU spent
// in each state. Busy is the time charged to processes or taken by the
// hypervisor: user, nice, system and steal (not idle, iowait, irq, softirq).
func machineCPU(proc string) (total, busy, steal uint64, err error) {
	b, err := os.ReadFile(filepath.Join(proc, "stat"))
	if err != nil {
		return 0, 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, 0, fmt.Errorf("%s/stat: unexpected first line %q", proc, line)
	}
	// user nice system idle iowait irq softirq steal guest guest_nice;
	// guest time is already counted in user and nice.
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s/stat: %w", proc, err)
		}
		total += n
		switch i {
		case 0, 1, 2: // user, nice, system
			busy += n
		case 7: // steal
			busy += n
			steal = n
		}
	}
	return total, busy, steal, nil
}

// kthreadd is the parent of every kernel thread.
const kthreadd = 2

// named is a process outside the run: its command name and CPU ticks.
type named struct {
	name string
	cpu  uint64
}

// processes returns the CPU ticks (utime+stime) of every process that is
// one of the roots or descends from one, of every kernel thread, and of
// every other process, with its command name.
func (s *Sampler) processes() (ours, kernel map[int]uint64, outside map[int]named, err error) {
	ents, err := os.ReadDir(s.proc)
	if err != nil {
		return nil, nil, nil, err
	}
	type proc struct {
		ppid int
		named
	}
	procs := map[int]proc{}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := processCPU(filepath.Join(s.proc, e.Name(), "stat"))
		if err != nil {
			continue // exited while we read, or not ours to read
		}
		procs[pid] = proc{st.ppid, named{st.name, st.cpu}}
		children[st.ppid] = append(children[st.ppid], pid)
	}
	ours = map[int]uint64{}
	kernel = map[int]uint64{}
	for pid, p := range procs {
		if pid == kthreadd || p.ppid == kthreadd {
			kernel[pid] = p.cpu
		}
	}
	queue := append([]int(nil), s.roots()...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		p, ok := procs[pid]
		if _, dup := ours[pid]; !ok || dup {
			continue
		}
		ours[pid] = p.cpu
		queue = append(queue, children[pid]...)
	}
	outside = map[int]named{}
	for pid, p := range procs {
		_, mine := ours[pid]
		_, kern := kernel[pid]
		if !mine && !kern {
			outside[pid] = p.named
		}
	}
	return ours, kernel, outside, nil
}

// stat is what the sampler reads from a /proc/<pid>/stat.
type stat struct {
	name string // the command name, at most 15 bytes
	ppid int
	cpu  uint64 // utime+stime
}

// processCPU reads a /proc/<pid>/stat: its command name, its parent and
// its utime+stime.
func processCPU(path string) (stat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself; the fields after the last ')' are plain.
	open := bytes.IndexByte(b, '(')
	i := bytes.LastIndexByte(b, ')')
	if open < 0 || i < open {
		return stat{}, errors.New(path + ": no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return stat{}, errors.New(path + ": too few fields")
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return stat{}, err
	}
	u, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return stat{}, err
	}
	return stat{name: string(b[open+1 : i]), ppid: ppid, cpu: u + st}, nil
}

package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

var _ platform.Limits = (*Platform)(nil)

// cfsPeriod is the CFS bandwidth period, in microseconds, Kubernetes uses.
const cfsPeriod = 100_000

// Limit implements platform.Limits with the host's cgroup v1 controllers,
// as a container runtime does: each target gets a group of its own
// (faultline-<id>-<instance>) below the group it runs in, in the cpu
// hierarchy for a CPU quota and in the memory hierarchy for a memory
// limit. The groups are journaled before they exist; Undo (or a later
// run's reap) moves the processes back up and removes them.
func (p *Platform) Limit(_ context.Context, id string, targets []platform.Target, l platform.Limit) (platform.Limited, error) {
	if l.CPU < 0 || l.Memory < 0 || (l.CPU == 0 && l.Memory == 0) {
		return nil, fmt.Errorf("limit: a CPU (cores) or memory (bytes) limit above zero is needed, got %v cores and %d bytes", l.CPU, l.Memory)
	}
	var controllers []string
	if l.CPU > 0 {
		controllers = append(controllers, "cpu")
	}
	if l.Memory > 0 {
		controllers = append(controllers, "memory")
	}
	lim := &limited{p: p, id: id, limit: l, groups: map[string]map[string]string{}}
	var names []string
	for _, t := range targets {
		lim.groups[t.Instance] = map[string]string{}
		for _, c := range controllers {
			parent, err := cgroupOf(t.Incarnation.PID, c)
			if err != nil {
				return nil, fmt.Errorf("limit %s: %w", t.Instance, err)
			}
			dir := filepath.Join(parent, journal.CgroupPrefix+id+"-"+t.Instance)
			lim.groups[t.Instance][c] = dir
			lim.journaled = append(lim.journaled, dir)
		}
		names = append(names, t.Instance)
	}
	lim.target = strings.Join(names, ",")
	if err := p.journal.Write(lim.entry()); err != nil {
		return nil, err
	}
	for _, t := range targets {
		if err := lim.create(t.Instance); err != nil {
			return lim, err
		}
		if err := joinCgroups(t.Incarnation.PID, lim.groups[t.Instance]); err != nil {
			return lim, fmt.Errorf("limit %s: %w", t.Instance, err)
		}
		p.setCgroups(t.Instance, lim.groups[t.Instance])
	}
	if l.Fill && l.Memory > 0 {
		for _, t := range targets {
			if err := lim.fill(t.Instance); err != nil {
				return lim, fmt.Errorf("fill the memory of %s: %w", t.Instance, err)
			}
		}
	}
	return lim, nil
}

// fillLimit bounds how long a stressor runs: until its target's first OOM
// kill, or this long (a target between incarnations is not in its group,
// and the stressor, which the OOM killer may not pick, would wait at the
// limit).
const fillLimit = 5 * time.Second

// fill starts a stressor (`bank hog`) in instance's memory group and lets
// it allocate: the group fills and the kernel OOM-kills the instance, made
// the killer's first choice in the group. The stressor is journaled (the limit's entry, written again) and
// killed at the first OOM kill in the group, or after fillLimit.
func (l *limited) fill(instance string) error {
	dir := l.groups[instance]["memory"]
	before, err := memoryUse(dir)
	if err != nil {
		return err
	}
	cmd := exec.Command(l.p.bin, "hog", "--mib", strconv.FormatInt(l.limit.Memory>>20+8, 10))
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer in.Close()
	pid := cmd.Process.Pid
	l.mu.Lock()
	l.hogs = append(l.hogs, cmd)
	e := l.entry()
	l.mu.Unlock()
	go func() { _ = cmd.Wait() }()
	if err := l.p.journal.Write(e); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	// The killer's first choice in the group is the target, not the
	// stressor: exempting the stressor (-1000) needs CAP_SYS_RESOURCE,
	// which the harness may lack; raising the target does not. The target
	// gets its score back unless it is killed first.
	target, _ := l.p.PID(instance)
	if target != 0 {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", target), []byte("1000"), 0); err != nil {
			_ = cmd.Process.Kill()
			return err
		}
	}
	if err := writeCgroup(dir, "cgroup.procs", int64(pid)); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	if _, err := in.Write([]byte("go\n")); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	go func() {
		defer func() {
			_ = cmd.Process.Kill()
			if target != 0 && !exited(target) {
				_ = os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", target), []byte("0"), 0)
			}
		}()
		for deadline := time.Now().Add(fillLimit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if u, err := memoryUse(dir); err != nil || u.oomKills > before.oomKills {
				return
			}
		}
	}()
	return nil
}

// limited is one Limit in place.
type limited struct {
	p     *Platform
	id    string
	limit platform.Limit

	target    string   // the instances, as journaled
	journaled []string // every group, as journaled

	mu     sync.Mutex
	groups map[string]map[string]string // instance -> controller -> group
	hogs   []*exec.Cmd                  // stressors filling the groups
}

// entry is the limit's journal entry: its groups, and the stressors that
// fill them (killed by a crashed run's reap). l.mu must be held once
// stressors may run.
func (l *limited) entry() journal.Entry {
	e := journal.Entry{Kind: "limit", ID: l.id, Target: l.target, Cgroups: l.journaled}
	for _, h := range l.hogs {
		e.PIDs = append(e.PIDs, h.Process.Pid)
		if who, err := journal.Identify(h.Process.Pid); err == nil {
			e.Procs = append(e.Procs, who)
		}
		e.Exe = l.p.bin
	}
	return e
}

// create makes instance's groups and writes their limits.
func (l *limited) create(instance string) error {
	for c, dir := range l.groups[instance] {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("limit %s: %w", instance, err)
		}
		var err error
		switch c {
		case "cpu":
			quota := max(int64(l.limit.CPU*cfsPeriod), 1000) // the kernel's least
			err = errors.Join(
				writeCgroup(dir, "cpu.cfs_period_us", cfsPeriod),
				writeCgroup(dir, "cpu.cfs_quota_us", quota))
		case "memory":
			err = writeCgroup(dir, "memory.limit_in_bytes", l.limit.Memory)
		}
		if err != nil {
			return fmt.Errorf("limit %s: %w", instance, err)
		}
	}
	return nil
}

// Verify implements platform.Applied: each target's groups hold their
// limits and its running process, and say what the limits did.
func (l *limited) Verify(context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, inst := range slices.Sorted(maps.Keys(l.groups)) {
		groups := l.groups[inst]
		if pid, ok := l.p.PID(inst); ok {
			for _, dir := range groups {
				if !inCgroup(dir, pid) && !exited(pid) {
					return "", fmt.Errorf("%s (pid %d) is not in %s", inst, pid, dir)
				}
			}
		}
		u, err := readGroups(groups)
		if err != nil {
			return "", err
		}
		var parts []string
		if _, ok := groups["cpu"]; ok {
			parts = append(parts, fmt.Sprintf("%.2f cores, throttled in %d of %d periods", l.limit.CPU, u.Throttled, u.Periods))
		}
		if _, ok := groups["memory"]; ok {
			kills := fmt.Sprintf("%d OOM kills", u.OOMKills)
			if l.limit.Fill {
				kills += " (the stressor's own, once its target is gone, among them)"
			}
			parts = append(parts, fmt.Sprintf("%d of %d KiB allocated since, limit hit %d times, %s", u.usage/1024, l.limit.Memory/1024, u.LimitHits, kills))
		}
		out = append(out, inst+": "+strings.Join(parts, "; "))
	}
	return strings.Join(out, "; "), nil
}

// Effect implements platform.Limited.
func (l *limited) Effect() (platform.Effect, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e platform.Effect
	for _, groups := range l.groups {
		u, err := readGroups(groups)
		if err != nil {
			return e, err
		}
		e.OOMKills += u.OOMKills
		e.LimitHits += u.LimitHits
		e.Periods += u.Periods
		e.Throttled += u.Throttled
	}
	return e, nil
}

// groupsUse is what one instance's groups have counted.
type groupsUse struct {
	platform.Effect
	usage int64 // bytes charged to the memory group now
}

// readGroups reads the counters of one instance's groups (controller ->
// directory).
func readGroups(groups map[string]string) (groupsUse, error) {
	var u groupsUse
	if dir, ok := groups["memory"]; ok {
		m, err := memoryUse(dir)
		if err != nil {
			return u, err
		}
		u.usage, u.OOMKills, u.LimitHits = m.usage, int(m.oomKills), m.failcnt
	}
	if dir, ok := groups["cpu"]; ok {
		st, err := cgroupStats(dir, "cpu.stat")
		if err != nil {
			return u, err
		}
		u.Periods, u.Throttled = st["nr_periods"], st["nr_throttled"]
	}
	return u, nil
}

// Undo implements platform.Applied: instances started from now on run
// unlimited, the processes in the groups go back to where they came from
// and the groups are removed.
func (l *limited) Undo(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, h := range l.hogs {
		_ = h.Process.Kill()
	}
	l.hogs = nil
	for inst, groups := range l.groups {
		l.p.setCgroups(inst, nil)
		for _, dir := range groups {
			errs = append(errs, journal.RemoveCgroup(dir))
		}
	}
	l.groups = map[string]map[string]string{}
	errs = append(errs, l.p.journal.Remove(l.id))
	return errors.Join(errs...)
}

// setCgroups makes the groups (controller -> directory) the ones instance
// is started in from now on; nil for none.
func (p *Platform) setCgroups(instance string, groups map[string]string) {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok {
		return
	}
	pr.mu.Lock()
	pr.cgroups = groups
	pr.mu.Unlock()
}

// cgroupOf returns the directory of the group pid runs in, in the cgroup v1
// hierarchy that has controller.
func cgroupOf(pid int, controller string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 4:memory:/process_api/7b76
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c != controller {
				continue
			}
			dir := filepath.Join(journal.CgroupRoot, parts[1], parts[2])
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
				return "", fmt.Errorf("the %s controller's group %s: %w: %w", controller, dir, err, platform.ErrUnsupported)
			}
			return dir, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no cgroup v1 %s controller on this host: %w", controller, platform.ErrUnsupported)
}

// joinCgroups moves pid (every thread of it) into each of groups.
func joinCgroups(pid int, groups map[string]string) error {
	var errs []error
	for _, dir := range groups {
		errs = append(errs, writeCgroup(dir, "cgroup.procs", int64(pid)))
	}
	return errors.Join(errs...)
}

func writeCgroup(dir, file string, v int64) error {
	return os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(v, 10)), 0)
}

// inCgroup reports whether pid is in the group dir.
func inCgroup(dir string, pid int) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return false
	}
	return slices.Contains(strings.Fields(string(b)), strconv.Itoa(pid))
}

// exited reports whether pid has exited (gone, or a zombie not yet
// waited for): a process leaves its groups as it exits.
func exited(pid int) bool {
	st, err := procState(pid)
	return err != nil || st == "Z" || st == "X"
}

// cgroupStats reads a "name value" file of a group (cpu.stat,
// memory.oom_control).
func cgroupStats(dir, file string) (map[string]int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			out[k] = n
		}
	}
	return out, nil
}

type memoryUsage struct{ usage, failcnt, oomKills int64 }

func memoryUse(dir string) (memoryUsage, error) {
	var u memoryUsage
	oom, err := cgroupStats(dir, "memory.oom_control")
	if err != nil {
		return u, err
	}
	u.oomKills = oom["oom_kill"]
	for file, v := range map[string]*int64{"memory.usage_in_bytes": &u.usage, "memory.failcnt": &u.failcnt} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return u, err
		}
		*v, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	return u, nil
}

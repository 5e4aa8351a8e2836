package kind

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

var _ platform.Limits = (*Platform)(nil)

// Limit implements platform.Limits from each target's node, as the
// kubelet would for a tighter resources.limits: it writes the bank
// container's cgroups directly (v1 or v2, as the node has them), a CFS
// quota and a memory limit at what the container uses now plus l.Memory,
// so that, as on local, the limit counts what it allocates from now on. Past it the kernel OOM-kills the container and the kubelet
// restarts it (the pod says OOMKilled); the restarted container is created
// from its pod's spec and so comes back without the limit: on kind an OOM
// kill fault kills once, where on local it kills every incarnation for as
// long as it lasts. It is journaled first; a crashed run's reap deletes
// the namespace, and the limited containers with it.
func (p *Platform) Limit(ctx context.Context, id string, targets []platform.Target, l platform.Limit) (platform.Limited, error) {
	if l.CPU < 0 || l.Memory < 0 || (l.CPU == 0 && l.Memory == 0) {
		return nil, fmt.Errorf("limit: a CPU (cores) or memory (bytes) limit above zero is needed, got %v cores and %d bytes", l.CPU, l.Memory)
	}
	lim := &limited{p: p, id: id, limit: l}
	var names []string
	for _, t := range targets {
		names = append(names, t.Instance+"="+t.Incarnation.ID)
	}
	if err := p.Journal().Write(journal.Entry{Kind: "limit", ID: id, Target: strings.Join(names, ",")}); err != nil {
		return lim, err
	}
	var errs []error
	for _, t := range targets {
		node, cid, ok := p.container(t.Instance)
		if !ok || cid != t.Incarnation.ID {
			errs = append(errs, fmt.Errorf("limit %s: %w", t.Instance, platform.ErrNotCurrent))
			continue
		}
		h := heldContainer{instance: t.Instance, node: node, id: cid}
		var err error
		if h.cpu, err = cgroupDir(ctx, node, cid, "cpu"); err == nil {
			h.mem, err = cgroupDir(ctx, node, cid, "memory")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("limit %s: %w", t.Instance, err))
			continue
		}
		lim.mu.Lock()
		lim.held = append(lim.held, h)
		lim.mu.Unlock()
		if l.CPU > 0 {
			if err := writeQuota(ctx, node, h.cpu, max(int(l.CPU*cfsPeriod), 1000)); err != nil {
				errs = append(errs, fmt.Errorf("limit %s: %w", t.Instance, err))
			}
		}
		if l.Memory > 0 {
			// What it uses now, plus the limit: v1 or v2.
			script := fmt.Sprintf(`if [ -e %[1]s/memory.limit_in_bytes ]; then echo $(( $(cat %[1]s/memory.usage_in_bytes) + %[2]d )) > %[1]s/memory.limit_in_bytes; else echo $(( $(cat %[1]s/memory.current) + %[2]d )) > %[1]s/memory.max; fi`, h.mem, l.Memory)
			if err := nodeShell(ctx, node, script); err != nil {
				errs = append(errs, fmt.Errorf("limit %s: %w", t.Instance, err))
			}
		}
	}
	return lim, errors.Join(errs...)
}

// limited is one Limit in place on kind.
type limited struct {
	p     *Platform
	id    string
	limit platform.Limit

	mu   sync.Mutex
	held []heldContainer
}

// heldContainer is one container under a limit: its node, ID and cgroup
// folders as the node sees them (one folder for both on cgroup v2).
type heldContainer struct {
	instance, node, id string
	cpu, mem           string
}

// Verify implements platform.Applied: what each limited container that
// still runs has used against its limits, and which were OOM-killed.
func (l *limited) Verify(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		return "", errors.New("no container limited")
	}
	var out []string
	for _, s := range l.held {
		if l.oomKilled(s) {
			out = append(out, s.instance+": OOM-killed (the pod says OOMKilled), restarted without the limit")
			continue
		}
		if _, cid, ok := l.p.container(s.instance); !ok || cid != s.id {
			out = append(out, s.instance+": replaced")
			continue
		}
		e, err := counters(ctx, s)
		if err != nil {
			return "", fmt.Errorf("%s: %w", s.instance, err)
		}
		var parts []string
		if l.limit.CPU > 0 {
			q, err := readQuota(ctx, s.node, s.cpu)
			if err != nil {
				return "", fmt.Errorf("%s: %w", s.instance, err)
			}
			parts = append(parts, fmt.Sprintf("CFS quota %d µs per %d µs, throttled in %d of %d periods", q, cfsPeriod, e.Throttled, e.Periods))
		}
		if l.limit.Memory > 0 {
			parts = append(parts, fmt.Sprintf("memory limit hit %d times", e.LimitHits))
		}
		out = append(out, s.instance+": "+strings.Join(parts, "; "))
	}
	return strings.Join(out, "; "), nil
}

// Effect implements platform.Limited: OOM kills are the limited
// containers the pod's status says ended OOMKilled; the counters are read
// from the cgroups of those still running (a killed container's went with
// it).
func (l *limited) Effect() (platform.Effect, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e platform.Effect
	for _, s := range l.held {
		if l.oomKilled(s) {
			e.OOMKills++
			continue
		}
		if _, cid, ok := l.p.container(s.instance); !ok || cid != s.id {
			continue
		}
		c, err := counters(context.Background(), s)
		if err != nil {
			return e, fmt.Errorf("%s: %w", s.instance, err)
		}
		e.Periods += c.Periods
		e.Throttled += c.Throttled
		e.LimitHits += c.LimitHits
	}
	return e, nil
}

// counters reads a running container's CFS and memory counters (the
// OOM kills its cgroup counts are of processes in it; the container's own
// is read from its pod), on cgroup v1 or v2.
func counters(ctx context.Context, s heldContainer) (platform.Effect, error) {
	var e platform.Effect
	out, err := nodeOutput(ctx, s.node, fmt.Sprintf(`cat %[1]s/cpu.stat; if [ -e %[2]s/memory.events ]; then cat %[2]s/memory.events; else echo "max $(cat %[2]s/memory.failcnt)"; fi`, s.cpu, s.mem))
	if err != nil {
		return e, err
	}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "nr_periods":
			e.Periods = n
		case "nr_throttled":
			e.Throttled = n
		case "max":
			e.LimitHits = n
		}
	}
	return e, nil
}

// oomKilled reports whether the pod of s says its container s.id ended
// OOMKilled.
func (l *limited) oomKilled(s heldContainer) bool {
	pod := l.p.Pod(s.instance)
	if pod == nil {
		return false
	}
	for _, c := range pod.Status.ContainerStatuses {
		t := c.LastTerminationState.Terminated
		if t != nil && t.Reason == "OOMKilled" && strings.HasSuffix(t.ContainerID, "://"+s.id) {
			return true
		}
	}
	return false
}

// Undo implements platform.Applied: the limits are lifted from every
// container that is still its instance's current one (a replaced
// container's cgroup is gone with it), and the entry removed.
func (l *limited) Undo(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, s := range l.held {
		if _, cid, ok := l.p.container(s.instance); !ok || cid != s.id {
			continue
		}
		if l.limit.CPU > 0 {
			if err := writeQuota(ctx, s.node, s.cpu, -1); err != nil {
				errs = append(errs, fmt.Errorf("lift the cpu limit of %s: %w", s.instance, err))
			}
		}
		if l.limit.Memory > 0 {
			script := fmt.Sprintf(`if [ -e %[1]s/memory.limit_in_bytes ]; then echo -1 > %[1]s/memory.limit_in_bytes; else echo max > %[1]s/memory.max; fi`, s.mem)
			if err := nodeShell(ctx, s.node, script); err != nil {
				errs = append(errs, fmt.Errorf("lift the memory limit of %s: %w", s.instance, err))
			}
		}
	}
	l.held = nil
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return l.p.Journal().Remove(l.id)
}

// nodeShell runs script in sh on node.
func nodeShell(ctx context.Context, node, script string) error {
	_, err := nodeOutput(ctx, node, script)
	return err
}

// nodeOutput runs script in sh on node and returns its output.
func nodeOutput(ctx context.Context, node, script string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c", script).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("on %s: %w: %s", node, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

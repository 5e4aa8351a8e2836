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
// container's cgroup (v2 on kind's nodes) directly, a CPU quota in
// cpu.max and a memory limit in memory.max at what the container uses now
// plus l.Memory, so that, as on local, the limit counts what it allocates
// from now on. Past it the kernel OOM-kills the container and the kubelet
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
		dir, err := cpuCgroup(ctx, node, cid) // on cgroup v2 the one folder of every controller
		if err != nil {
			errs = append(errs, fmt.Errorf("limit %s: %w", t.Instance, err))
			continue
		}
		lim.mu.Lock()
		lim.held = append(lim.held, squeezed{instance: t.Instance, node: node, id: cid, dir: dir})
		lim.mu.Unlock()
		var script []string
		if l.CPU > 0 {
			script = append(script, fmt.Sprintf(`echo "%d %d" > %s/cpu.max`, max(int(l.CPU*cfsPeriod), 1000), cfsPeriod, dir))
		}
		if l.Memory > 0 {
			script = append(script, fmt.Sprintf(`echo $(( $(cat %[1]s/memory.current) + %[2]d )) > %[1]s/memory.max`, dir, l.Memory))
		}
		if err := nodeShell(ctx, node, strings.Join(script, " && ")); err != nil {
			errs = append(errs, fmt.Errorf("limit %s: %w", t.Instance, err))
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
	held []squeezed
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
		stat, err := nodeOutput(ctx, s.node, fmt.Sprintf(`cat %[1]s/cpu.max; grep -h -E '^(nr_periods|nr_throttled|oom_kill|max) ' %[1]s/cpu.stat %[1]s/memory.events; cat %[1]s/memory.current %[1]s/memory.max`, s.dir))
		if err != nil {
			return "", fmt.Errorf("%s: %w", s.instance, err)
		}
		out = append(out, s.instance+": "+strings.Join(strings.Fields(stat), " "))
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
		out, err := nodeOutput(context.Background(), s.node, fmt.Sprintf(`grep -h -E '^(nr_periods|nr_throttled|max) ' %[1]s/cpu.stat %[1]s/memory.events`, s.dir))
		if err != nil {
			return e, fmt.Errorf("%s: %w", s.instance, err)
		}
		for _, line := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(line, " ")
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch k {
			case "nr_periods":
				e.Periods += n
			case "nr_throttled":
				e.Throttled += n
			case "max":
				e.LimitHits += n
			}
		}
	}
	return e, nil
}

// oomKilled reports whether the pod of s says its container s.id ended
// OOMKilled.
func (l *limited) oomKilled(s squeezed) bool {
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
		var script []string
		if l.limit.CPU > 0 {
			script = append(script, fmt.Sprintf(`echo "max %d" > %s/cpu.max`, cfsPeriod, s.dir))
		}
		if l.limit.Memory > 0 {
			script = append(script, fmt.Sprintf(`echo max > %s/memory.max`, s.dir))
		}
		if err := nodeShell(ctx, s.node, strings.Join(script, " && ")); err != nil {
			errs = append(errs, fmt.Errorf("lift the limits of %s: %w", s.instance, err))
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

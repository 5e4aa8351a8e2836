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

// cfsPeriod is the CFS period the squeeze uses, in microseconds (the
// kernel's default, as a Kubernetes CPU limit uses).
const cfsPeriod = 100_000

var _ platform.Pressure = (*Platform)(nil)

// CPUPressure implements platform.Pressure as a Kubernetes CPU limit
// does: each target's bank container gets a CFS quota of one share of a
// core, shared with burners busy processes as on local (a core split
// burners + len(targets) ways), written from its node into the
// container's cpu cgroup. It is journaled first; a crashed run's reap
// deletes the namespace, and the squeezed containers with it. A target
// restarted meanwhile comes back without the quota, as a restarted process
// on local comes back with every core.
func (p *Platform) CPUPressure(ctx context.Context, id string, targets []platform.Target, burners int) (platform.Applied, error) {
	quota := cfsPeriod / max(1, burners+len(targets))
	c := &cpuQuota{p: p, id: id, quota: quota}
	var names []string
	for _, t := range targets {
		names = append(names, t.Instance+"="+t.Incarnation.ID)
	}
	if err := p.Journal().Write(journal.Entry{Kind: "cpu", ID: id, Target: strings.Join(names, ",")}); err != nil {
		return c, err
	}
	var errs []error
	for _, t := range targets {
		node, cid, ok := p.container(t.Instance)
		if !ok || cid != t.Incarnation.ID {
			errs = append(errs, fmt.Errorf("cpu pressure on %s: %w", t.Instance, platform.ErrNotCurrent))
			continue
		}
		dir, err := cpuCgroup(ctx, node, cid)
		if err != nil {
			errs = append(errs, fmt.Errorf("cpu pressure on %s: %w", t.Instance, err))
			continue
		}
		c.mu.Lock()
		c.squeezed = append(c.squeezed, squeezed{instance: t.Instance, node: node, id: cid, dir: dir})
		c.mu.Unlock()
		if err := writeQuota(ctx, node, dir, quota); err != nil {
			errs = append(errs, fmt.Errorf("cpu pressure on %s: %w", t.Instance, err))
		}
	}
	return c, errors.Join(errs...)
}

// squeezed is one container under a quota: its node, ID and cpu cgroup
// folder as the node sees it.
type squeezed struct {
	instance, node, id, dir string
}

// cpuQuota is one CPUPressure in place.
type cpuQuota struct {
	p     *Platform
	id    string
	quota int

	mu       sync.Mutex
	squeezed []squeezed
}

// Verify implements platform.Applied: every squeezed container that is
// still its instance's current one has the quota.
func (c *cpuQuota) Verify(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.squeezed) == 0 {
		return "", errors.New("no container squeezed")
	}
	var held []string
	for _, s := range c.squeezed {
		if _, cid, ok := c.p.container(s.instance); !ok || cid != s.id {
			continue
		}
		got, err := readQuota(ctx, s.node, s.dir)
		if err != nil {
			return "", fmt.Errorf("%s: %w", s.instance, err)
		}
		if got != c.quota {
			return "", fmt.Errorf("%s: cpu.cfs_quota_us is %d, not %d", s.instance, got, c.quota)
		}
		held = append(held, s.instance)
	}
	if len(held) == 0 {
		return "", errors.New("every squeezed container has been replaced")
	}
	return fmt.Sprintf("CFS quota %d µs per %d µs (%.0f%% of a core) on %s", c.quota, cfsPeriod,
		100*float64(c.quota)/cfsPeriod, strings.Join(held, ", ")), nil
}

// Undo implements platform.Applied: the quota is lifted from every
// container that is still its instance's current one (a replaced
// container's cgroup is gone with it), and the entry removed.
func (c *cpuQuota) Undo(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.squeezed {
		if _, cid, ok := c.p.container(s.instance); !ok || cid != s.id {
			continue
		}
		if err := writeQuota(ctx, s.node, s.dir, -1); err != nil {
			errs = append(errs, fmt.Errorf("lift the cpu quota of %s: %w", s.instance, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.p.Journal().Remove(c.id)
}

// cpuCgroup returns the cpu cgroup folder, under the node's
// /sys/fs/cgroup, of container id's process.
func cpuCgroup(ctx context.Context, node, id string) (string, error) {
	return cgroupDir(ctx, node, id, "cpu")
}

// cgroupDir returns the folder, under the node's /sys/fs/cgroup, of the
// cgroup that holds container id's process in controller's hierarchy (on
// cgroup v2, the one folder of every controller).
func cgroupDir(ctx context.Context, node, id, controller string) (string, error) {
	n, err := pid(ctx, node, id)
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "docker", "exec", node, "cat", fmt.Sprintf("/proc/%d/cgroup", n)).Output()
	if err != nil {
		return "", fmt.Errorf("read the cgroups of pid %d on %s: %w", n, node, err)
	}
	return cgroupOf(string(out), controller)
}

// cpuCgroupOf finds the cpu controller's folder in a /proc/PID/cgroup.
func cpuCgroupOf(procCgroup string) (string, error) { return cgroupOf(procCgroup, "cpu") }

// cgroupOf finds controller's folder in a /proc/PID/cgroup (cgroup v1:
// "N:cpu,cpuacct:/path"; v2: "0::/path").
func cgroupOf(procCgroup, controller string) (string, error) {
	for _, l := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return "/sys/fs/cgroup/" + parts[1] + parts[2], nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			return "/sys/fs/cgroup" + parts[2], nil
		}
	}
	return "", fmt.Errorf("no %s cgroup in %q", controller, procCgroup)
}

// writeQuota sets a cgroup's CFS quota (-1: none), v1 or v2.
func writeQuota(ctx context.Context, node, dir string, quota int) error {
	v2 := "max"
	if quota > 0 {
		v2 = strconv.Itoa(quota)
	}
	script := fmt.Sprintf(`if [ -e %[1]s/cpu.cfs_quota_us ]; then echo %[2]d > %[1]s/cpu.cfs_period_us && echo %[3]d > %[1]s/cpu.cfs_quota_us; else echo "%[4]s %[2]d" > %[1]s/cpu.max; fi`,
		dir, cfsPeriod, quota, v2)
	if out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("%s on %s: %w: %s", dir, node, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// readQuota reads a cgroup's CFS quota back (-1: none).
func readQuota(ctx context.Context, node, dir string) (int, error) {
	out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c",
		fmt.Sprintf(`cat %[1]s/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 %[1]s/cpu.max`, dir)).Output()
	if err != nil {
		return 0, fmt.Errorf("read the cpu quota of %s on %s: %w", dir, node, err)
	}
	s := strings.TrimSpace(string(out))
	if s == "max" {
		return -1, nil
	}
	return strconv.Atoi(s)
}

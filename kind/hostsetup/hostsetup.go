// Package hostsetup prepares a Debian machine to run kind clusters with no
// container registry, and proves it is safe to: Docker Engine from Debian,
// dockerd running, the runc wrapper where the host lacks CAP_SYS_RESOURCE,
// and, before any container exists, the firewall rule that keeps every
// container's traffic on this machine (Firewall). It changes only what is
// missing and says what it changed; it never undoes anything.
package hostsetup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Packages are the Debian packages the kind platform and the node image
// build need on the host.
var Packages = []string{"docker.io", "containerd", "iptables", "debootstrap", "tar"}

// Options say where the repository is (to build the runc wrapper) and where
// progress goes.
type Options struct {
	Repo string
	Out  io.Writer
}

// Ensure installs and starts what is missing, in the one safe order:
// packages, the runc wrapper if the host needs it, the firewall rule, and
// only then dockerd; then it checks the rule again (Firewall). It returns
// what it changed.
func Ensure(ctx context.Context, o Options) ([]string, error) {
	if o.Out == nil {
		o.Out = os.Stderr
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, "kind host: "+format+"\n", a...) }
	var changed []string
	missing := missingPackages(ctx)
	if len(missing) > 0 {
		say("installing %s from Debian", strings.Join(missing, ", "))
		if err := aptInstall(ctx, missing); err != nil {
			return changed, fmt.Errorf("install %s: %w", strings.Join(missing, ", "), err)
		}
		changed = append(changed, "installed "+strings.Join(missing, ", "))
	}
	needs, err := needsRuncWrapper()
	if err != nil {
		return changed, err
	}
	runtimeChanged := false
	if needs {
		c, err := installRuncWrapper(ctx, o.Repo)
		if err != nil {
			return changed, fmt.Errorf("runc wrapper: %w", err)
		}
		if c != "" {
			say("%s", c)
			changed = append(changed, c)
			runtimeChanged = true
		}
	}
	// The rule goes in before dockerd starts, so that no container can
	// ever run without it; dockerd keeps an existing DOCKER-USER chain.
	c, err := installFirewall(ctx)
	if err != nil {
		return changed, fmt.Errorf("firewall: %w", err)
	}
	changed = append(changed, c...)
	for _, s := range c {
		say("%s", s)
	}
	c2, err := ensureDockerd(ctx, runtimeChanged, say)
	if err != nil {
		return changed, err
	}
	if c2 != "" {
		changed = append(changed, c2)
	}
	if err := Firewall(ctx); err != nil {
		return changed, err
	}
	say("firewall rule in place: container traffic stays on this machine")
	if len(changed) == 0 {
		say("nothing to change")
	}
	return changed, nil
}

// missingPackages are the Packages dpkg does not have installed.
func missingPackages(ctx context.Context) []string {
	var missing []string
	for _, p := range Packages {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	return missing
}

func aptInstall(ctx context.Context, pkgs []string) error {
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w\n%s", err, lastLines(string(out), 20))
		}
		return nil
	}
	if install() == nil {
		return nil
	}
	// The package lists may be missing or stale on a fresh machine.
	cmd := exec.CommandContext(ctx, "apt-get", "update")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %w\n%s", err, lastLines(string(out), 20))
	}
	return install()
}

// ensureDockerd starts dockerd if docker cannot reach it, or restarts the
// one this package started when its runtime configuration changed.
func ensureDockerd(ctx context.Context, restart bool, say func(string, ...any)) (string, error) {
	up := dockerUp(ctx)
	if up && !restart {
		return "", nil
	}
	if up && restart {
		say("restarting dockerd for its new default runtime")
		if err := stopDockerd(ctx); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll("/var/log", 0o755); err != nil {
		return "", err
	}
	logf, err := os.OpenFile("/var/log/faultline-dockerd.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := exec.Command("dockerd")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start dockerd: %w", err)
	}
	_ = cmd.Process.Release()
	for deadline := time.Now().Add(60 * time.Second); !dockerUp(ctx); {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("dockerd did not answer within 60 s; see /var/log/faultline-dockerd.log")
		}
		time.Sleep(500 * time.Millisecond)
	}
	say("dockerd started (log: /var/log/faultline-dockerd.log)")
	return "started dockerd", nil
}

func dockerUp(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(cctx, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

// stopDockerd stops the running dockerd (systemd's if it has one).
func stopDockerd(ctx context.Context) error {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return exec.CommandContext(ctx, "systemctl", "stop", "docker").Run()
	}
	if err := exec.CommandContext(ctx, "pkill", "-TERM", "-x", "dockerd").Run(); err != nil {
		return fmt.Errorf("stop dockerd: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); dockerUp(ctx); {
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd did not stop within 30 s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

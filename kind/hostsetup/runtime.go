package hostsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// capSysResource is CAP_SYS_RESOURCE's bit in the capability sets.
const capSysResource = 24

// RuntimeName is the Docker runtime name of the runc wrapper, and
// RuntimePath where it is installed.
const (
	RuntimeName = "faultline-runc"
	RuntimePath = "/usr/local/libexec/faultline/runc-nocap"
)

// needsRuncWrapper reports whether this process's capability bounding set
// lacks CAP_SYS_RESOURCE, so that privileged containers cannot start.
func needsRuncWrapper() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	return lacksCap(string(b), capSysResource)
}

// lacksCap reads CapBnd from a /proc/<pid>/status.
func lacksCap(status string, bit uint) (bool, error) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("CapBnd %q: %w", v, err)
			}
			return n&(1<<bit) == 0, nil
		}
	}
	return false, errors.New("no CapBnd in /proc/self/status")
}

// installRuncWrapper builds kind/cmd/runc-nocap into RuntimePath and makes
// it Docker's default runtime in /etc/docker/daemon.json, keeping every
// other setting there. It says what it changed ("" for nothing).
func installRuncWrapper(ctx context.Context, repo string) (string, error) {
	if repo == "" {
		return "", errors.New("the repository's folder is needed to build the wrapper")
	}
	tmp := RuntimePath + ".new"
	if err := os.MkdirAll(filepath.Dir(RuntimePath), 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, "./kind/cmd/runc-nocap")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	newBin, _ := os.ReadFile(tmp)
	oldBin, _ := os.ReadFile(RuntimePath)
	binChanged := string(newBin) != string(oldBin)
	if err := os.Rename(tmp, RuntimePath); err != nil {
		return "", err
	}
	const conf = "/etc/docker/daemon.json"
	doc := map[string]any{}
	if b, err := os.ReadFile(conf); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			return "", fmt.Errorf("%s: %w", conf, err)
		}
	}
	runtimes, _ := doc["runtimes"].(map[string]any)
	if runtimes == nil {
		runtimes = map[string]any{}
	}
	entry, _ := runtimes[RuntimeName].(map[string]any)
	if doc["default-runtime"] == RuntimeName && entry != nil && entry["path"] == RuntimePath {
		if binChanged {
			return "updated the runc wrapper " + RuntimePath, nil
		}
		return "", nil
	}
	runtimes[RuntimeName] = map[string]any{"path": RuntimePath}
	doc["runtimes"] = runtimes
	doc["default-runtime"] = RuntimeName
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(conf, append(b, '\n'), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("this host lacks CAP_SYS_RESOURCE: installed %s as Docker's default runtime %q in %s", RuntimePath, RuntimeName, conf), nil
}

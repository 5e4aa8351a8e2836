package journal

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// detach undoes a dead run's fault filesystem at mountpoint: it aborts the
// filesystem's connection first, so that every process waiting on it (a
// store node in the middle of a write, or exiting and flushing its files)
// gets an error instead of waiting for a server that died, then lazily
// unmounts it. A directory that is no longer a mount point is left alone.
func detach(mountpoint string) error {
	if err := abortConnection(mountpoint); err != nil {
		return err
	}
	err := syscall.Unmount(mountpoint, syscall.MNT_DETACH)
	if err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return fmt.Errorf("detach %s: %w", mountpoint, err)
}

// fuseConnections is where the kernel lists FUSE connections (fusectl),
// one directory per connection, named for its device's minor number.
const fuseConnections = "/sys/fs/fuse/connections"

// abortConnection aborts the FUSE connection mounted at mountpoint, if it
// is one and the kernel lists its connections.
func abortConnection(mountpoint string) error {
	dev, err := fuseDevice(mountpoint)
	if err != nil || dev == "" {
		return err
	}
	abort := filepath.Join(fuseConnections, dev, "abort")
	err = os.WriteFile(abort, []byte("1"), 0)
	if errors.Is(err, os.ErrNotExist) && mountFusectl() {
		err = os.WriteFile(abort, []byte("1"), 0)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("abort the connection of %s: %w", mountpoint, err)
	}
	return nil
}

// mountFusectl mounts the kernel's list of FUSE connections where a host
// has not (systemd mounts it at boot; a container or a minimal host may
// not), and reports whether it did.
func mountFusectl() bool {
	if entries, err := os.ReadDir(fuseConnections); err != nil || len(entries) > 0 {
		return false // no such directory, or already listing connections
	}
	return syscall.Mount("fusectl", fuseConnections, "fusectl", 0, "") == nil
}

// fuseDevice returns the minor device number of the FUSE filesystem
// mounted at mountpoint, from /proc/self/mountinfo, or "" if no FUSE
// filesystem is mounted there.
func fuseDevice(mountpoint string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	dev := ""
	for sc.Scan() {
		// 36 35 0:52 / /mnt rw,relatime shared:1 - fuse faultfs rw,...
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) || fields[4] != mountpoint || !strings.HasPrefix(fields[sep+1], "fuse") {
			continue
		}
		if _, minor, ok := strings.Cut(fields[2], ":"); ok {
			dev = minor // the last mount there is the one on top
		}
	}
	return dev, sc.Err()
}

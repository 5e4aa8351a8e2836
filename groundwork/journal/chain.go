package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// ChainPrefix begins the name of every iptables chain a run makes.
const ChainPrefix = "FL-"

// ChainTables are the tables a run's chain is made in, each jumped to
// from the table's OUTPUT chain: mangle marks connections, filter drops.
var ChainTables = []string{"mangle", "filter"}

// ChainName is the iptables chain of run: ChainPrefix and a digest of the
// run's name (a chain's name is at most 28 characters).
func ChainName(run string) string {
	sum := sha256.Sum256([]byte(run))
	return ChainPrefix + hex.EncodeToString(sum[:6])
}

// IsOurChain reports whether name may name a chain a run made.
func IsOurChain(name string) bool {
	h, ok := strings.CutPrefix(name, ChainPrefix)
	if !ok || len(h) != 12 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// RemoveChain removes the chain name from every table in ChainTables: the
// jumps to it from OUTPUT, then its rules, then the chain. A chain already
// gone is not an error.
func RemoveChain(name string) error {
	if !IsOurChain(name) {
		return fmt.Errorf("remove iptables chain %q: not one of ours (%s and 12 hex digits)", name, ChainPrefix)
	}
	var errs []error
	for _, t := range ChainTables {
		if iptables("-t", t, "-n", "-L", name) != nil {
			continue // not in this table
		}
		if err := removeJumps(t, name); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := iptables("-t", t, "-F", name); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, iptables("-t", t, "-X", name))
	}
	return errors.Join(errs...)
}

// removeJumps deletes every rule of table's OUTPUT chain that jumps to
// chain, by number, the last first.
func removeJumps(table, chain string) error {
	out, err := exec.Command("iptables", "-w", "5", "-t", table, "-n", "-L", "OUTPUT", "--line-numbers").Output()
	if err != nil {
		return fmt.Errorf("iptables -t %s -L OUTPUT: %w", table, err)
	}
	var nums []string
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == chain {
			nums = append(nums, f[0])
		}
	}
	for _, n := range slices.Backward(nums) {
		if err := iptables("-t", table, "-D", "OUTPUT", n); err != nil {
			return err
		}
	}
	return nil
}

// iptables runs iptables with args, waiting for the xtables lock; its
// error carries what iptables printed.
func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

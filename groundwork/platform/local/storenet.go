package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
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

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

var _ platform.StoreNetwork = (*Platform)(nil)

// storeNetID is the journal entry of the store's network: the run's
// iptables chain and the store nodes' groups.
const storeNetID = "store-network"

// storeNet cuts the routes between store nodes with iptables, below the
// nodes, so that the routes go straight from node to node and cost nothing
// until a partition. Each node runs in a cgroup v2 group of its own
// (faultline-<run>-store-N), started in it (CLONE_INTO_CGROUP), and a rule
// in the run's mangle chain marks every connection a node opens with the
// node's mark. A cut between two nodes is four rules in the run's filter
// chain, which drop, by mark and port, each way of every connection either
// node opened to the other. Everything is journaled before it exists; Stop,
// or a later run's reap, removes the chains and the groups.
//
// On loopback every packet passes OUTPUT, so the chains hang from OUTPUT
// alone.
type storeNet struct {
	journal *journal.Journal
	chain   string
	groups  map[string]string // node -> its group's directory
	marks   map[string]uint32 // node -> the mark of connections it opens

	mu    sync.Mutex
	ports map[string]int // node -> its route (cluster) port
	cuts  int
}

// newStoreNet makes the chains and the nodes' groups, or says why the host
// cannot (not root, no iptables, no cgroup v2 hierarchy, no cgroup match).
func newStoreNet(j *journal.Journal, nodes []string) (*storeNet, error) {
	root, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := cgroup2Of(os.Getpid())
	if err != nil {
		return nil, err
	}
	n := &storeNet{journal: j, chain: journal.ChainName(j.Run()), groups: map[string]string{}, marks: map[string]uint32{}, ports: map[string]int{}}
	sum := sha256.Sum256([]byte(j.Run()))
	base := 0x46000000 | uint32(binary.BigEndian.Uint16(sum[:2]))<<8
	e := journal.Entry{Kind: journal.KindNetwork, ID: storeNetID, Target: "store routes", Chain: n.chain}
	for i, node := range nodes {
		n.groups[node] = filepath.Join(root, own, journal.CgroupPrefix+j.Run()+"-"+node)
		n.marks[node] = base | uint32(i+1)
		e.Cgroups = append(e.Cgroups, n.groups[node])
	}
	if err := j.Write(e); err != nil {
		return nil, err
	}
	if err := n.make(root); err != nil {
		return nil, errors.Join(err, n.close())
	}
	return n, nil
}

func (n *storeNet) make(root string) error {
	for _, node := range slices.Sorted(maps.Keys(n.groups)) {
		if err := os.Mkdir(n.groups[node], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("store network: %w", err)
		}
	}
	// A chain of the same name was left by an earlier run of the same
	// name, which did not stop.
	if err := journal.RemoveChain(n.chain); err != nil {
		return err
	}
	comment := []string{"-m", "comment", "--comment", "faultline run " + n.journal.Run()}
	for _, t := range journal.ChainTables {
		if err := iptables("-t", t, "-N", n.chain); err != nil {
			return err
		}
		if err := iptables(append([]string{"-t", t, "-I", "OUTPUT"}, append(comment, "-j", n.chain)...)...); err != nil {
			return err
		}
	}
	for node, dir := range n.groups {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		if err := iptables("-t", "mangle", "-A", n.chain, "-m", "cgroup", "--path", rel, "-m", "conntrack", "--ctstate", "NEW",
			"-j", "CONNMARK", "--set-mark", fmt.Sprintf("%#x", n.marks[node])); err != nil {
			return err
		}
	}
	return nil
}

// setPort records node's route port, the one its peers dial.
func (n *storeNet) setPort(node string, port int) {
	n.mu.Lock()
	n.ports[node] = port
	n.mu.Unlock()
}

// group returns the directory of node's group, where it is started.
func (n *storeNet) group(node string) string { return n.groups[node] }

// close removes the chains, the groups (a process still in one goes back
// up) and the journal entry.
func (n *storeNet) close() error {
	errs := []error{journal.RemoveChain(n.chain)}
	for _, dir := range n.groups {
		errs = append(errs, journal.RemoveCgroup(dir))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return n.journal.Remove(storeNetID)
}

// CutStore implements platform.StoreNetwork.
func (p *Platform) CutStore(_ context.Context, a, b string) (platform.StoreCut, error) {
	if p.net == nil {
		return nil, fmt.Errorf("cut the store's routes on this host (%s): %w", p.netWhy, platform.ErrUnsupported)
	}
	return p.net.cut(a, b)
}

// cut drops every packet between nodes a and b.
func (n *storeNet) cut(a, b string) (*storeCut, error) {
	n.mu.Lock()
	pa, pb := n.ports[a], n.ports[b]
	n.cuts++
	c := &storeCut{net: n, a: a, b: b, tag: fmt.Sprintf("faultline %s cut %d", n.journal.Run(), n.cuts)}
	n.mu.Unlock()
	ma, okA := n.marks[a]
	mb, okB := n.marks[b]
	if !okA || !okB || pa == 0 || pb == 0 || a == b {
		return nil, fmt.Errorf("cut %s from %s: not two store nodes of this run", a, b)
	}
	for _, way := range []struct {
		mark uint32
		port int
	}{{ma, pb}, {mb, pa}} {
		// The connections a opened to b carry a's mark and b's port,
		// one way as the destination, the other as the source.
		for _, dir := range []string{"--dport", "--sport"} {
			c.rules = append(c.rules, []string{"-p", "tcp", "-m", "connmark", "--mark", fmt.Sprintf("%#x", way.mark), dir, strconv.Itoa(way.port),
				"-m", "comment", "--comment", c.tag, "-j", "DROP"})
		}
	}
	for i, r := range c.rules {
		if err := iptables(append([]string{"-t", "filter", "-A", n.chain}, r...)...); err != nil {
			c.rules = c.rules[:i]
			return nil, errors.Join(err, c.Undo(context.Background()))
		}
	}
	return c, nil
}

// storeCut is a cut in place: its rules in the run's filter chain.
type storeCut struct {
	net   *storeNet
	a, b  string
	tag   string // the rules' comment
	rules [][]string
}

// Verify implements platform.Applied: every rule is in the chain.
func (c *storeCut) Verify(context.Context) (string, error) {
	for _, r := range c.rules {
		if err := iptables(append([]string{"-t", "filter", "-C", c.net.chain}, r...)...); err != nil {
			return "", fmt.Errorf("cut %s from %s: a rule is missing: %w", c.a, c.b, err)
		}
	}
	return fmt.Sprintf("%s<->%s: %d iptables rules drop both ways of every connection", c.a, c.b, len(c.rules)), nil
}

// Undo implements platform.Applied: the rules go; established connections
// resume (TCP resends what was dropped).
func (c *storeCut) Undo(context.Context) error {
	var errs []error
	for _, r := range c.rules {
		if err := iptables(append([]string{"-t", "filter", "-D", c.net.chain}, r...)...); err != nil && !strings.Contains(err.Error(), "does a matching rule exist") {
			errs = append(errs, err)
		}
	}
	c.rules = nil
	return errors.Join(errs...)
}

// Dropped implements platform.StoreCut: the packets the rules dropped, from
// the chain's counters.
func (c *storeCut) Dropped(context.Context) (int64, error) {
	out, err := exec.Command("iptables", "-w", "5", "-t", "filter", "-L", c.net.chain, "-n", "-v", "-x").Output()
	if err != nil {
		return 0, fmt.Errorf("read the counters of %s: %w", c.net.chain, err)
	}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "/* "+c.tag+" */") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkts, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read the counters of %s: %q", c.net.chain, line)
		}
		total += pkts
	}
	return total, nil
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

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
func cgroup2Mount() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// ... mount point (5th field) ... " - " fstype source options
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") && strings.HasPrefix(f[4], journal.CgroupRoot[:len(journal.CgroupRoot)-1]) {
			return f[4], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy mounted below " + journal.CgroupRoot)
}

// cgroup2Of returns the cgroup v2 group pid runs in ("/" for the root).
func cgroup2Of(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if g, ok := strings.CutPrefix(line, "0::"); ok {
			return g, nil
		}
	}
	return "", fmt.Errorf("process %d is in no cgroup v2 group", pid)
}

// openGroup opens a group's directory for CLONE_INTO_CGROUP.
func openGroup(dir string) (int, error) {
	return syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
}

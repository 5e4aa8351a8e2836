package kind

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// A partitioned node keeps its network interface and address; its packets
// on the cluster's network are dropped, in every direction, by an iptables
// chain of its own inside the node: what a pulled cable or a dead switch
// port does. (Disconnecting the container from the Docker network instead
// gave it a new interface when it came back, and its kubelet did not report
// Ready again within 3 minutes.) The host's firewall and Docker's own rules
// are untouched; loopback traffic inside the node (the kubelet to its
// containers, Docker's DNS) goes on.

// cutChain is the iptables chain that drops a partitioned node's traffic.
const cutChain = "FAULTLINE-CUT"

// cutScript installs the chain and sends the node's traffic on the
// interface holding its address ($1) to it; undoScript removes both. Each
// is idempotent.
const (
	cutScript = `set -e
dev=$(ip -o -4 addr show | awk -v ip="$1" '{split($4, a, "/"); if (a[1] == ip) print $2}')
[ -n "$dev" ] || { echo "no interface holds $1" >&2; exit 2; }
iptables -w -N ` + cutChain + ` 2>/dev/null || true
iptables -w -F ` + cutChain + `
iptables -w -A ` + cutChain + ` -j DROP
for rule in "INPUT -i $dev" "FORWARD -i $dev" "FORWARD -o $dev" "OUTPUT -o $dev"; do
  iptables -w -C $rule -j ` + cutChain + ` 2>/dev/null || iptables -w -I $rule -j ` + cutChain + `
done
`
	undoScript = `for chain in INPUT FORWARD OUTPUT; do
  while n=$(iptables -w -L $chain --line-numbers -n | awk '$2 == "` + cutChain + `" {print $1; exit}'); [ -n "$n" ]; do
    iptables -w -D $chain $n
  done
done
iptables -w -F ` + cutChain + ` 2>/dev/null || true
iptables -w -X ` + cutChain + ` 2>/dev/null || true
`
	// cutHolds exits 0 while the chain drops the node's traffic.
	cutHolds = `iptables -w -L INPUT -n | grep -q '^` + cutChain + ` '`
)

// cut partitions node (whose address is ip) from the cluster's network.
func cut(ctx context.Context, dc *testcontainers.DockerClient, node, ip string) error {
	if out, code, err := execIn(ctx, dc, node, "sh", "-c", cutScript, "cut", ip); err != nil || code != 0 {
		return fmt.Errorf("partition node %s: exit %d: %v %s", node, code, err, out)
	}
	return nil
}

// uncut ends node's partition, if it holds.
func uncut(ctx context.Context, dc *testcontainers.DockerClient, node string) error {
	if out, code, err := execIn(ctx, dc, node, "sh", "-c", undoScript); err != nil || code != 0 {
		return fmt.Errorf("heal node %s: exit %d: %v %s", node, code, err, out)
	}
	return nil
}

// isCut reports whether node's partition holds.
func isCut(ctx context.Context, dc *testcontainers.DockerClient, node string) (bool, error) {
	_, code, err := execIn(ctx, dc, node, "sh", "-c", cutHolds)
	if err != nil {
		return false, fmt.Errorf("read node %s's partition: %w", node, err)
	}
	return code == 0, nil
}

// execIn runs cmd inside container node, as docker exec does, and returns
// its output (stdout and stderr) and exit code.
func execIn(ctx context.Context, dc *testcontainers.DockerClient, node string, cmd ...string) (string, int, error) {
	ex, err := dc.ExecCreate(ctx, node, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", -1, fmt.Errorf("exec in %s: %w", node, err)
	}
	att, err := dc.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", -1, fmt.Errorf("exec in %s: %w", node, err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return out.String(), -1, fmt.Errorf("exec in %s: read output: %w", node, err)
	}
	r, err := dc.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return out.String(), -1, fmt.Errorf("exec in %s: %w", node, err)
	}
	return strings.TrimSpace(out.String()), r.ExitCode, nil
}

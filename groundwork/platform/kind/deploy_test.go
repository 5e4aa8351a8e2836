package kind_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/groundwork/platform/kind"
	"github.com/faultline/faultline/kind/cluster"
	"github.com/faultline/faultline/system/cardapi"
	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/transactions"
)

// TestKindPlatform is the kind platform end to end, with real pods and
// real faults: it opens the platform as FAULTLINE_PLATFORM=kind does (host
// set-up, the offline node image, the cluster from kind-config.yaml, the
// bank's image built FROM scratch and loaded), deploys the whole bank and
// waits until every instance is ready, seeds it with a Job, then:
//   - a card authorisation sent to the card-api NodePort on 127.0.0.1 is
//     approved through card-processing, cards, balance and transactions,
//     every call going through the caller's sidecar;
//   - card-processing-1 and store-1 are killed in place (SIGKILL from
//     their node): each old incarnation is gone, a new one runs and is
//     ready again;
//   - transactions-0 is frozen (SIGSTOP) and thawed;
//   - cards-0 is squeezed to a quarter of a core by a CFS quota, and the
//     quota lifted;
//   - a 300 ms latency toxic on card-processing-0 -> balance-0 is listed by
//     that pod's sidecar, then removed;
//   - card-processing-0's pod is deleted with its grace period, and a new
//     pod of that name becomes ready;
//   - the worker that runs store-1 is lost (its node container killed, with
//     every instance on it): a card authorisation is still approved through
//     the other worker; the node boots again and each of its instances is
//     ready again; then the same worker is partitioned (every packet on the
//     cluster's network dropped inside it), a card authorisation is still
//     approved, and once healed its kubelet reports the node Ready again;
//   - Stop deletes the run's namespace and leaves the journal empty.
//
// The cluster is deleted at the end if this test created it (unless
// FAULTLINE_KEEP_CLUSTER=1).
func TestKindPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a kind cluster and deploys the bank; not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	names, _ := cluster.Nodes(cluster.DefaultName)
	existed := len(names) > 0
	run := filepath.Join(t.TempDir(), fmt.Sprintf("kindtest-%d", time.Now().Unix()%100000))
	require.NoError(t, os.MkdirAll(run, 0o700))
	state := filepath.Join(t.TempDir(), "journal")
	j, err := journal.Open(state, filepath.Base(run))
	require.NoError(t, err)
	t0 := time.Now()
	p, err := platform.Open(kind.Name, platform.Options{RunDir: run, Journal: j, Progress: t.Logf})
	require.NoError(t, err)
	if !existed && os.Getenv("FAULTLINE_KEEP_CLUSTER") == "" {
		t.Cleanup(func() { require.NoError(t, cluster.Delete(cluster.DefaultName)) })
	}
	t.Logf("platform open in %v", time.Since(t0).Round(time.Second))
	// Stopped however the test ends, a failed start included: a start that
	// fails after applying leaves a namespace holding the entry points'
	// NodePorts, and the journal that would let a later run reap it is in
	// this test's temporary folder.
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	t1 := time.Now()
	require.NoError(t, p.Start(ctx))
	t.Logf("every instance ready %v after start", time.Since(t1).Round(time.Second))
	data, err := p.(platform.Seeder).Seed(ctx, 20, 1)
	require.NoError(t, err)

	// A card authorisation through the entry point on 127.0.0.1, tried until
	// approved, each attempt bounded (a connection to a pod on a lost node
	// hangs rather than fails). An unanswered message is sent again as it
	// was, as the card network does; a declined one ("91" while an instance
	// restarts) is a new authorisation with a new message ID, as a
	// merchant's retry is: card-api gives a message its first answer again.
	network := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: p.(platform.Identity).OutsideTLS()}}
	auth := func(n int) cardprocessing.AuthResponse {
		t.Helper()
		var resp cardprocessing.AuthResponse
		var last string
		var body []byte
		var misses []string // what each try that was not an approval got, for the log
		defer func() {
			if len(misses) > 0 {
				t.Logf("authorisation %d: %d tries before the approval: %s", n, len(misses), strings.Join(misses, "; "))
			}
		}()
		deadline := time.Now().Add(90 * time.Second)
		for try := 0; time.Now().Before(deadline); try++ {
			if try > 0 {
				misses = append(misses, fmt.Sprintf("%s %.200s", time.Now().Format("15:04:05.0"), last))
				time.Sleep(time.Second)
			}
			if body == nil {
				req := cardprocessing.AuthRequest{MessageID: fmt.Sprintf("kindtest-%d-%d-%d", time.Now().UnixNano(), n, try), CardID: data.Customers[0].Card,
					Amount: 100, Currency: "GBP", Merchant: transactions.Merchant{ID: "m001", Name: "Kind Test Cafe"}}
				body, _ = json.Marshal(req)
			}
			post, _ := http.NewRequest(http.MethodPost, "https://"+p.Ingress("card-api")[0]+"/v1/authorisations", bytes.NewReader(body))
			post.Header.Set("Content-Type", "application/json")
			post.Header.Set(cardapi.HeaderMAC, cardapi.Sign(p.(platform.CardNetwork).CardKey(), body))
			r, err := network.Do(post)
			if err != nil {
				last = err.Error()
				continue
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			last = fmt.Sprintf("status %d: %s", r.StatusCode, b)
			if r.StatusCode == http.StatusOK && json.Unmarshal(b, &resp) == nil {
				if resp.Approved {
					return resp
				}
				body = nil // answered, declined: a new authorisation next
			}
		}
		t.Fatalf("no approval through card-api's NodePort: %s", last)
		return resp
	}
	auth(1)

	sig, ok := p.(platform.Signals)
	require.True(t, ok, "kind signals processes in place")
	for _, inst := range []string{"card-processing-1", "store-1"} {
		old, ok := sig.Incarnation(inst)
		require.True(t, ok, inst)
		require.NoError(t, sig.Signal(inst, old, syscall.SIGKILL), inst)
		require.Eventually(t, func() bool { st, err := sig.State(inst, old); return err == nil && st == platform.Gone },
			30*time.Second, 200*time.Millisecond, "%s's old container gone", inst)
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		require.Eventually(t, func() bool { cur, ok := sig.Incarnation(inst); return ok && cur != old }, 90*time.Second, 200*time.Millisecond, "%s restarted", inst)
		require.NoError(t, p.(platform.Readiness).WaitReady(wctx, inst))
		wcancel()
		t.Logf("%s killed in place and back", inst)
	}
	auth(2)

	fr := p.(platform.Freezer)
	target, _ := sig.Incarnation("transactions-0")
	require.NoError(t, fr.Freeze(ctx, "freeze-1", []platform.Target{{Instance: "transactions-0", Incarnation: target}}))
	require.Eventually(t, func() bool { st, _ := sig.State("transactions-0", target); return st == platform.Stopped }, 10*time.Second, 100*time.Millisecond)
	require.NoError(t, fr.Thaw(ctx, "freeze-1"))
	require.Eventually(t, func() bool { st, _ := sig.State("transactions-0", target); return st == platform.Running }, 10*time.Second, 100*time.Millisecond)

	// cards-0 squeezed to a quarter of a core (a CFS quota, as a CPU limit
	// is), then given it back.
	squeezed, _ := sig.Incarnation("cards-0")
	applied, err := p.(platform.Pressure).CPUPressure(ctx, "cpu-1", []platform.Target{{Instance: "cards-0", Incarnation: squeezed}}, 3)
	require.NoError(t, err)
	ev, err := applied.Verify(ctx)
	require.NoError(t, err)
	assert.Contains(t, ev, "25000 µs per 100000 µs")
	t.Logf("%s", ev)
	require.NoError(t, applied.Undo(ctx))
	_, err = applied.Verify(ctx)
	require.Error(t, err, "the quota is lifted")

	// cards-0 held to a CPU limit of 200m, then lifted; emoji-0 held to
	// 64 KiB more memory than it uses: the kernel OOM-kills it, the pod
	// says OOMKilled and the kubelet starts it again.
	limits := p.(platform.Limits)
	capped, _ := sig.Incarnation("cards-0")
	cpu, err := limits.Limit(ctx, "limit-1", []platform.Target{{Instance: "cards-0", Incarnation: capped}}, platform.Limit{CPU: 0.2})
	require.NoError(t, err)
	ev, err = cpu.Verify(ctx)
	require.NoError(t, err)
	assert.Contains(t, ev, "cards-0: CFS quota 20000 µs per 100000 µs")
	t.Logf("%s", ev)
	require.NoError(t, cpu.Undo(ctx))
	starved, _ := sig.Incarnation("emoji-0")
	mem, err := limits.Limit(ctx, "limit-2", []platform.Target{{Instance: "emoji-0", Incarnation: starved}}, platform.Limit{Memory: 64 << 10})
	require.NoError(t, err)
	// An idle instance allocates little: requests make it allocate.
	ep, err := p.(platform.Endpoints).Endpoint(ctx, "emoji-0")
	require.NoError(t, err)
	ep = platform.URL(p.(platform.Endpoints), ep, "")
	for range 40 {
		if e, _ := mem.Effect(); e.OOMKills > 0 {
			break
		}
		req, _ := http.NewRequest(http.MethodGet, ep+"/metrics", nil)
		if resp, err := platform.HTTPClient(p.(platform.Endpoints), 5*time.Second).Do(platform.Authorize(req, p.(platform.Endpoints))); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.Eventually(t, func() bool { e, err := mem.Effect(); return err == nil && e.OOMKills == 1 }, 60*time.Second, 500*time.Millisecond,
		"emoji-0 OOM-killed, and its pod says so")
	ev, err = mem.Verify(ctx)
	require.NoError(t, err)
	assert.Contains(t, ev, "OOMKilled")
	t.Logf("%s", ev)
	require.NoError(t, mem.Undo(ctx))
	ectx, ecancel := context.WithTimeout(ctx, 90*time.Second)
	require.NoError(t, p.(platform.Readiness).WaitReady(ectx, "emoji-0"), "emoji-0 started again")
	ecancel()

	links := p.(platform.Links).Links("card-processing-0", "balance-0")
	require.Len(t, links, 1)
	require.NoError(t, links[0].AddToxic(platform.Toxic{Name: "kindtest", Type: "latency", Stream: "downstream", Toxicity: 1,
		Attributes: map[string]any{"latency": 300}}))
	assert.Equal(t, []string{"kindtest"}, links[0].Toxics())
	require.NoError(t, links[0].RemoveToxic("kindtest"))
	assert.Empty(t, links[0].Toxics())
	auth(3)

	// card-processing-0's pod deleted with its grace period: the
	// StatefulSet makes a new pod of the same name, ready again.
	pods, ok := p.(platform.Pods)
	require.True(t, ok, "kind deletes pods")
	uid, _, ok := pods.PodOf("card-processing-0")
	require.True(t, ok)
	t5 := time.Now()
	require.NoError(t, pods.DeletePod(ctx, "card-processing-0", uid, -1))
	require.Error(t, pods.DeletePod(ctx, "card-processing-0", "not-its-uid", -1), "a pod that is not the one chosen is never deleted")
	require.Eventually(t, func() bool {
		cur, deleting, ok := pods.PodOf("card-processing-0")
		return ok && !deleting && cur != uid
	},
		90*time.Second, 200*time.Millisecond, "a new card-processing-0 pod")
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	require.NoError(t, p.(platform.Readiness).WaitReady(wctx, "card-processing-0"))
	wcancel()
	t.Logf("card-processing-0's pod deleted; its new pod ready %v later", time.Since(t5).Round(100*time.Millisecond))
	auth(8)

	nodes, ok := p.(platform.Nodes)
	require.True(t, ok, "kind fails whole nodes")
	node, ok := nodes.NodeOf("store-1")
	require.True(t, ok)
	var onNode []string
	before := map[string]platform.Incarnation{}
	for _, in := range p.Instances("") {
		if n, _ := nodes.NodeOf(in.Name); n == node {
			onNode = append(onNode, in.Name)
			before[in.Name], _ = sig.Incarnation(in.Name)
		}
	}
	t2 := time.Now()
	lost, err := nodes.FailNode(ctx, "node-1", node, platform.NodeLost)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lost.Undo(context.Background()) })
	ev, err = lost.Verify(ctx)
	require.NoError(t, err)
	t.Logf("%s", ev)
	auth(4)
	t.Logf("approved %v after the node was lost", time.Since(t2).Round(100*time.Millisecond))
	require.NoError(t, lost.Undo(ctx))
	t3 := time.Now()
	for _, inst := range onNode {
		// The pod's status is stale until the node's kubelet reports
		// again: wait for a new container, then for it to be ready.
		require.Eventually(t, func() bool { cur, ok := sig.Incarnation(inst); return ok && cur != before[inst] },
			5*time.Minute, time.Second, "%s restarted after its node booted", inst)
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		require.NoError(t, p.(platform.Readiness).WaitReady(wctx, inst), "%s ready after its node booted", inst)
		wcancel()
	}
	t.Logf("node %s booted; %d instances on it ready %v later", node, len(onNode), time.Since(t3).Round(time.Second))
	auth(5)

	// The same worker partitioned from the cluster, then healed: its
	// instances go on where they stood, and Undo returns once its kubelet
	// reports it Ready again.
	cut, err := nodes.FailNode(ctx, "node-2", node, platform.NodePartitioned)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cut.Undo(context.Background()) })
	t4 := time.Now()
	ev, err = cut.Verify(ctx)
	require.NoError(t, err)
	t.Logf("%s", ev)
	auth(6)
	t.Logf("approved %v after the node was partitioned", time.Since(t4).Round(100*time.Millisecond))
	healed := time.Now()
	require.NoError(t, cut.Undo(ctx))
	t.Logf("node %s healed and Ready again %v after", node, time.Since(healed).Round(100*time.Millisecond))
	_, err = cut.Verify(ctx)
	require.Error(t, err, "node %s still partitioned after Undo", node)
	auth(7)

	require.NoError(t, p.Stop(ctx))
	left, err := journal.Read(state)
	require.NoError(t, err)
	assert.Empty(t, left, "nothing journaled is left")
}

package faults_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/platform"
)

// fakeLink is a link that records its toxics.
type fakeLink struct {
	from, to platform.Instance
	toxics   []platform.Toxic
}

func (l *fakeLink) From() platform.Instance { return l.from }
func (l *fakeLink) To() platform.Instance   { return l.to }
func (l *fakeLink) AddToxic(t platform.Toxic) error {
	l.toxics = append(l.toxics, t)
	return nil
}
func (l *fakeLink) RemoveToxic(name string) error {
	l.toxics = slices.DeleteFunc(l.toxics, func(t platform.Toxic) bool { return t.Name == name })
	return nil
}
func (l *fakeLink) Toxics() []string {
	var out []string
	for _, t := range l.toxics {
		out = append(out, t.Name)
	}
	return out
}

// linksPlatform is fakePlatform with links, matched by instance or service.
type linksPlatform struct {
	*fakePlatform
	links []*fakeLink
}

func (p *linksPlatform) Links(from, to string) []platform.Link {
	var out []platform.Link
	for _, l := range p.links {
		if (from == "" || from == l.from.Name || from == l.from.Service) && (to == l.to.Name || to == l.to.Service) {
			out = append(out, l)
		}
	}
	return out
}

func storeLinks(withRoutes bool) *linksPlatform {
	node := func(i int) platform.Instance {
		return platform.Instance{Name: []string{"store-0", "store-1", "store-2"}[i], Service: "store"}
	}
	api := platform.Instance{Name: "card-api-0", Service: "card-api"}
	p := &linksPlatform{fakePlatform: newFake()}
	for i := range 3 {
		p.links = append(p.links, &fakeLink{from: api, to: node(i)})
		for j := range 3 {
			if withRoutes && i != j {
				p.links = append(p.links, &fakeLink{from: node(i), to: node(j)})
			}
		}
	}
	return p
}

// TestStorePartitionCutsTheNodesLinksToItsPeersOnly: isolating store-1
// stops both streams of the four links between it and its peers, and no
// service's link to it; Verify names them; Recover lets everything through.
func TestStorePartitionCutsTheNodesLinksToItsPeersOnly(t *testing.T) {
	p := storeLinks(true)
	env := newEnv(t, p, "cut-1")
	f := faults.IsolateStoreNode(1)
	require.NoError(t, f.Validate())
	require.NoError(t, f.Inject(context.Background(), env))

	var cut []string
	for _, l := range p.links {
		switch {
		case len(l.toxics) == 2:
			cut = append(cut, l.from.Name+"->"+l.to.Name)
			assert.ElementsMatch(t, []string{"upstream", "downstream"}, []string{l.toxics[0].Stream, l.toxics[1].Stream})
			assert.Equal(t, "timeout", l.toxics[0].Type)
		case len(l.toxics) != 0:
			t.Errorf("%s->%s has %d toxics", l.from.Name, l.to.Name, len(l.toxics))
		}
	}
	assert.ElementsMatch(t, []string{"store-1->store-0", "store-1->store-2", "store-0->store-1", "store-2->store-1"}, cut)
	ev, err := f.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Contains(t, ev, "4 links")

	require.NoError(t, f.Recover(context.Background(), env))
	for _, l := range p.links {
		assert.Empty(t, l.toxics, "%s->%s after recovery", l.from.Name, l.to.Name)
	}
}

// TestStorePartitionNeedsTheStoresOwnLinks: on a platform whose store
// nodes do not reach each other through links, the fault is unsupported
// (judged unknown), not injected on the services' links instead; and only
// store nodes can be cut off.
func TestStorePartitionNeedsTheStoresOwnLinks(t *testing.T) {
	p := storeLinks(false)
	err := faults.IsolateStoreNode(1).Inject(context.Background(), newEnv(t, p, "cut-2"))
	require.ErrorIs(t, err, faults.ErrUnsupported)
	for _, l := range p.links {
		assert.Empty(t, l.toxics)
	}
	assert.Error(t, (&faults.StorePartition{Node: "store-3"}).Validate())
	assert.Error(t, (&faults.StorePartition{Node: "card-api-0"}).Validate())
}

// leaderPlatform is linksPlatform whose store says who leads each stream.
type leaderPlatform struct {
	*linksPlatform
	leader string
}

func (p *leaderPlatform) StreamLeader(_ context.Context, stream string) (string, error) {
	return p.leader, nil
}

// TestStoreLeaderPartitionCutsOffTheLeaderOfTheDay: the node cut off is
// the one the store names as the stream's leader when the fault is
// injected.
func TestStoreLeaderPartitionCutsOffTheLeaderOfTheDay(t *testing.T) {
	p := &leaderPlatform{linksPlatform: storeLinks(true), leader: "store-2"}
	f := faults.IsolateStoreLeader("LEDGER")
	require.NoError(t, f.Validate())
	require.NoError(t, f.Inject(context.Background(), newEnv(t, p, "cut-3")))
	ev, err := f.Verify(context.Background(), newEnv(t, p, "cut-3"))
	require.NoError(t, err)
	assert.Contains(t, ev, "store-2 cut off")
	for _, l := range p.links {
		touches := l.from.Name == "store-2" || l.to.Name == "store-2"
		assert.Equal(t, touches && l.from.Service == "store", len(l.toxics) == 2, "%s->%s", l.from.Name, l.to.Name)
	}
}

// TestBridgeCutsOnePairOnly: a bridge between store-0 and store-2 cuts
// the two links between them, both ways, and leaves store-1's links to
// both alone; a node cannot be bridged from itself.
func TestBridgeCutsOnePairOnly(t *testing.T) {
	p := storeLinks(true)
	env := newEnv(t, p, "bridge-1")
	f := faults.BridgeStore(0, 2)
	require.NoError(t, f.Validate())
	require.NoError(t, f.Inject(context.Background(), env))
	var cut []string
	for _, l := range p.links {
		if len(l.toxics) > 0 {
			cut = append(cut, l.from.Name+"->"+l.to.Name)
		}
	}
	assert.ElementsMatch(t, []string{"store-0->store-2", "store-2->store-0"}, cut)
	ev, err := f.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Contains(t, ev, "2 links")
	assert.Contains(t, f.Name(), "store-0 from store-2")
	require.NoError(t, f.Recover(context.Background(), env))
	for _, l := range p.links {
		assert.Empty(t, l.toxics)
	}
	assert.Error(t, faults.BridgeStore(1, 1).Validate())
	assert.Error(t, (&faults.StorePartition{Node: "store-0", Only: "store-9"}).Validate())
}

// cutPlatform is linksPlatform whose platform cuts the store's routes
// itself (platform.StoreNetwork); unsupported says it cannot this run.
type cutPlatform struct {
	*linksPlatform
	unsupported bool
	cuts        []*fakeCut
}

type fakeCut struct {
	a, b    string
	dropped int64
	undone  bool
}

func (c *fakeCut) Verify(context.Context) (string, error) { return c.a + "<->" + c.b, nil }
func (c *fakeCut) Undo(context.Context) error             { c.undone = true; return nil }
func (c *fakeCut) Dropped(context.Context) (int64, error) { return c.dropped, nil }

func (p *cutPlatform) CutStore(_ context.Context, a, b string) (platform.StoreCut, error) {
	if p.unsupported {
		return nil, platform.ErrUnsupported
	}
	c := &fakeCut{a: a, b: b}
	p.cuts = append(p.cuts, c)
	return c, nil
}

// TestStorePartitionHasThePlatformCut: where the platform cuts the routes
// itself, isolating store-1 cuts it from store-0 and store-2 and touches
// no link; the report counts the packets dropped, and none at all is no
// effect; Recover undoes every cut. A platform that cannot cut this run
// falls back to the links.
func TestStorePartitionHasThePlatformCut(t *testing.T) {
	ctx := context.Background()
	p := &cutPlatform{linksPlatform: storeLinks(true)}
	env := newEnv(t, p, "cut-4")
	f := faults.IsolateStoreNode(1)
	require.NoError(t, f.Inject(ctx, env))
	require.Len(t, p.cuts, 2)
	assert.Equal(t, []string{"store-1", "store-0"}, []string{p.cuts[0].a, p.cuts[0].b})
	assert.Equal(t, []string{"store-1", "store-2"}, []string{p.cuts[1].a, p.cuts[1].b})
	for _, l := range p.links {
		assert.Empty(t, l.toxics)
	}
	ev, err := f.Verify(ctx, env)
	require.NoError(t, err)
	assert.Contains(t, ev, "store-1<->store-2")
	_, err = f.Report(ctx, env)
	require.ErrorIs(t, err, faults.ErrNoEffect)
	p.cuts[1].dropped = 7
	rep, err := f.Report(ctx, env)
	require.NoError(t, err)
	assert.Contains(t, rep, "store-1<->store-2 7 packets dropped")
	require.NoError(t, f.Recover(ctx, env))
	assert.True(t, p.cuts[0].undone && p.cuts[1].undone)

	bridge := faults.BridgeStore(0, 2)
	require.NoError(t, bridge.Inject(ctx, newEnv(t, p, "cut-5")))
	require.Len(t, p.cuts, 3)
	assert.Equal(t, []string{"store-0", "store-2"}, []string{p.cuts[2].a, p.cuts[2].b})

	fallback := &cutPlatform{linksPlatform: storeLinks(true), unsupported: true}
	g := faults.IsolateStoreNode(1)
	require.NoError(t, g.Inject(ctx, newEnv(t, fallback, "cut-6")))
	ev, err = g.Verify(ctx, newEnv(t, fallback, "cut-6"))
	require.NoError(t, err)
	assert.Contains(t, ev, "4 links")
}

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

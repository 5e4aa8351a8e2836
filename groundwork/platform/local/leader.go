package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

var _ platform.StoreLeaders = (*Platform)(nil)

// StreamLeader implements platform.StoreLeaders: the node that leads
// stream, as the store's monitoring (/jsz) says it. Each node is asked in
// turn until one names a leader: a node cut off from the others, or down,
// may know none.
func (p *Platform) StreamLeader(ctx context.Context, stream string) (string, error) {
	urls := p.jszURLs("streams=true")
	client := &http.Client{Timeout: 2 * time.Second}
	var errs []error
	for _, u := range urls {
		leader, err := streamLeader(ctx, client, u, stream)
		if err == nil {
			return leader, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("leader of stream %s: %w", stream, errors.Join(errs...))
}

// jszURLs returns each store node's monitoring URL (/jsz?query), by node
// name.
func (p *Platform) jszURLs(query string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	urls := map[string]string{}
	for _, pr := range p.order {
		if pr.Service == topology.Store {
			urls[pr.Name] = strings.TrimSuffix(pr.readyURL, "/healthz") + "/jsz?" + query
		}
	}
	return urls
}

// jsz is the part of a store node's /jsz?streams=true answer that names
// each stream's leader.
type jsz struct {
	Accounts []struct {
		Streams []struct {
			Name    string               `json:"name"`
			State   platform.StreamState `json:"state"`
			Cluster *jszCluster          `json:"cluster"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// jszCluster names the leader of a stream's raft group.
type jszCluster struct {
	Leader string `json:"leader"`
}

func streamLeader(ctx context.Context, client *http.Client, url, stream string) (string, error) {
	j, err := readJsz(ctx, client, url)
	if err != nil {
		return "", err
	}
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			if s.Name == stream && s.Cluster != nil && s.Cluster.Leader != "" {
				return s.Cluster.Leader, nil
			}
		}
	}
	return "", fmt.Errorf("%s: no leader named for %s", url, stream)
}

func readJsz(ctx context.Context, client *http.Client, url string) (jsz, error) {
	var j jsz
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return j, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return j, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return j, fmt.Errorf("%s: %w", url, err)
	}
	return j, nil
}

var _ platform.StoreReplicas = (*Platform)(nil)

// StreamReplicas implements platform.StoreReplicas: each store node's own
// state of stream, from its monitoring (/jsz).
func (p *Platform) StreamReplicas(ctx context.Context, stream string) (map[string]platform.StreamState, error) {
	urls := p.jszURLs("streams=true")
	client := &http.Client{Timeout: 2 * time.Second}
	out := map[string]platform.StreamState{}
	var errs []error
	for node, u := range urls {
		j, err := readJsz(ctx, client, u)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", node, err))
			continue
		}
		found := false
		for _, a := range j.Accounts {
			for _, s := range a.Streams {
				if s.Name == stream {
					out[node], found = s.State, true
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%s holds no replica of %s", node, stream))
		}
	}
	return out, errors.Join(errs...)
}

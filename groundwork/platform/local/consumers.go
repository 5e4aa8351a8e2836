package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
)

var _ platform.StoreConsumers = (*Platform)(nil)

// ConsumerBacklog implements platform.StoreConsumers from the store's
// monitoring (/jsz?consumers=true): every node reports each consumer it
// holds a replica of, and only the consumer's leader's figures are
// current, so the answer is the leader's own. An error when no node that
// answers leads the consumer (an election under way, the leader down).
func (p *Platform) ConsumerBacklog(ctx context.Context, consumer string) (int, error) {
	return consumerBacklog(ctx, &http.Client{Timeout: 2 * time.Second}, p.jszURLs("consumers=true"), consumer)
}

// consumerBacklog asks each node's /jsz (urls by node name) for consumer
// until one says it leads it.
func consumerBacklog(ctx context.Context, client *http.Client, urls map[string]string, consumer string) (int, error) {
	var errs []error
	for node, u := range urls {
		j, err := readJsz(ctx, client, u)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", node, err))
			continue
		}
		for _, a := range j.Accounts {
			for _, s := range a.Streams {
				for _, c := range s.Consumers {
					if c.Name == consumer && (c.Cluster == nil || c.Cluster.Leader == node) {
						return c.NumPending + c.NumAckPending, nil
					}
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("backlog of consumer %s: no store node that answered leads it: %w", consumer, err)
	}
	return 0, fmt.Errorf("backlog of consumer %s: no store node leads it", consumer)
}

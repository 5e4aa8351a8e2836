package local

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
)

var _ platform.Health = (*Platform)(nil)

// Healthy implements platform.Health: the instance's readiness endpoint
// (a store node's /healthz: every stream current) answers OK now.
func (p *Platform) Healthy(ctx context.Context, instance string) error {
	p.mu.Lock()
	pr, ok := p.procs[instance]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no instance %q", instance)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pr.readyURL, nil)
	if err != nil {
		return err
	}
	resp, err := platform.HTTPClient(p, 2*time.Second).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", instance, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s: %s: %s", instance, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

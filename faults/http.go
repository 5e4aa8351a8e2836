package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// HTTPFault makes the selected instances answer a share of the requests to
// Route with Status, and/or delay a share of them, and/or lower their
// process-wide rate limit, through the bank's admin hook (/admin/faults,
// enabled with --admin): an L7 fault, as a mesh sidecar or a mesh's
// rate-limit policy would inject.
type HTTPFault struct {
	Target    Selector
	Route     string // path prefix, e.g. /v1/reserve; "/" for all
	ErrorRate float64
	Status    int
	DelayRate float64
	Delay     time.Duration
	RateLimit int // requests per second the process admits while the fault is on (0: unchanged)

	insts []platform.Instance
}

// adminTimeout bounds each call to an instance's fault admin endpoint.
const adminTimeout = 2 * time.Second

// Name implements Fault.
func (h *HTTPFault) Name() string {
	var parts []string
	if h.ErrorRate > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% HTTP %d", 100*h.ErrorRate, h.Status))
	}
	if h.DelayRate > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% +%v", 100*h.DelayRate, h.Delay))
	}
	if h.RateLimit > 0 {
		parts = append(parts, fmt.Sprintf("rate limit %d/s", h.RateLimit))
	}
	return fmt.Sprintf("%s on %s %s", strings.Join(parts, " and "), h.Target, h.Route)
}

// Services implements Targeted.
func (h *HTTPFault) Services() []string { return []string{h.Target.service()} }

// Validate implements Fault.
func (h *HTTPFault) Validate() error {
	if !strings.HasPrefix(h.Route, "/") {
		return fmt.Errorf("http fault: route %q must start with /", h.Route)
	}
	if h.ErrorRate < 0 || h.ErrorRate > 1 || h.DelayRate < 0 || h.DelayRate > 1 {
		return errors.New("http fault: rates must be in [0,1]")
	}
	if h.ErrorRate > 0 && (h.Status < 400 || h.Status > 599) {
		return fmt.Errorf("http fault: status %d is not an error", h.Status)
	}
	if h.RateLimit < 0 {
		return fmt.Errorf("http fault: rate limit %d must not be negative", h.RateLimit)
	}
	if h.ErrorRate == 0 && h.DelayRate == 0 && h.RateLimit == 0 {
		return errors.New("http fault: neither errors, delay nor a rate limit")
	}
	return h.Target.Validate()
}

// admin calls instance's fault admin endpoint at path, through the
// platform's endpoint for it (never through a Service: the admin hook is
// not exposed to the mesh).
func (h *HTTPFault) admin(ctx context.Context, env *Env, instance, method, path string, body any) (*http.Response, error) {
	ep, err := platform.As[platform.Endpoints](env.Platform, "http faults")
	if err != nil {
		return nil, err
	}
	addr, err := ep.AdminEndpoint(ctx, instance)
	if err != nil {
		return nil, err
	}
	url := platform.URL(ep, addr, path)
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return platform.HTTPClient(ep, adminTimeout).Do(platform.Authorize(req, ep))
}

// Inject implements Fault.
func (h *HTTPFault) Inject(ctx context.Context, env *Env) error {
	if _, err := platform.As[platform.Endpoints](env.Platform, "http faults"); err != nil {
		return err
	}
	insts, err := h.Target.Pick(env)
	if err != nil {
		return err
	}
	h.insts = insts
	if err := env.Journal.Write(journal.Entry{Kind: "http", ID: env.ID, Target: strings.Join(names(insts), ",")}); err != nil {
		return err
	}
	spec := map[string]any{"id": env.ID, "route": h.Route, "error_rate": h.ErrorRate, "status": h.Status,
		"delay_rate": h.DelayRate, "delay_ms": h.Delay.Milliseconds(), "rate_limit": h.RateLimit}
	for _, in := range insts {
		resp, err := h.admin(ctx, env, in.Name, http.MethodPost, "/admin/faults", spec)
		if err != nil {
			return fmt.Errorf("inject on %s: %w", in.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("inject on %s: admin hook answered %d (is --admin set?)", in.Name, resp.StatusCode)
		}
	}
	return nil
}

// Verify implements Fault: every instance lists the fault.
func (h *HTTPFault) Verify(ctx context.Context, env *Env) (string, error) {
	for _, in := range h.insts {
		resp, err := h.admin(ctx, env, in.Name, http.MethodGet, "/admin/faults", nil)
		if err != nil {
			return "", err
		}
		var list []struct{ ID string }
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		found := false
		for _, f := range list {
			found = found || f.ID == env.ID
		}
		if err != nil || !found {
			return "", fmt.Errorf("%s does not list fault %s", in.Name, env.ID)
		}
	}
	return fmt.Sprintf("admin fault %s active on %s", env.ID, strings.Join(names(h.insts), ", ")), nil
}

// Recover implements Fault. An instance restarted meanwhile has lost the
// fault already; one that cannot be reached is retried for a while.
func (h *HTTPFault) Recover(ctx context.Context, env *Env) error {
	var errs []error
	for _, in := range h.insts {
		var err error
		for range 20 {
			var resp *http.Response
			resp, err = h.admin(ctx, env, in.Name, http.MethodDelete, "/admin/faults/"+env.ID, nil)
			if err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		errs = append(errs, err)
	}
	errs = append(errs, env.Journal.Remove(env.ID))
	return errors.Join(errs...)
}

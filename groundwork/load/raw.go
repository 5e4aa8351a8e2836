package load

import (
	"context"
	"net/http"
	"time"

	"github.com/faultline/faultline/groundwork/history"
)

// Raw attacks url with GETs exactly as a journey is attacked (same attacker
// settings, request IDs, send lag and history), for measuring the harness's
// own overhead against bare vegeta.
func Raw(ctx context.Context, h *history.History, url string, rate float64, d time.Duration) Stats {
	j := Journey{Name: "raw", client: Client{Attempts: 1, Timeout: 3 * time.Second, Patience: 3 * time.Second},
		build:    func(*Gen) request { return request{method: http.MethodGet, url: url} },
		classify: classifyPlain}
	return attackJourney(ctx, h, "bench", &Gen{}, Plan{Journey: "raw", Rate: rate, Duration: d}, j)
}

// Package mesh is how the bank's services talk to each other over HTTP/JSON.
//
// The server side (Server) gives every process request IDs, deadlines taken
// from the caller, Prometheus metrics, a process-wide rate limit, /healthz and
// /readyz, an optional admin hook for L7 faults, and graceful shutdown.
//
// The client side (Client) gives every call to a dependency: service
// discovery (a static list or DNS), client-side round-robin load balancing,
// failure detection with a circuit breaker per endpoint (an endpoint that
// keeps failing is ejected), timeouts with the remaining deadline propagated
// to the next hop, retries for idempotent calls only and within a retry
// budget, connection pooling, request ID propagation and cancellation.
//
//	caller ──► Client ──► endpoint (round robin, breaker per endpoint)
//	             │  X-Request-Id, X-Deadline-Ms, Idempotency-Key
//	             ▼
//	           Server ──► handler (ctx carries the caller's deadline)
//
// It is not a service registry and keeps no state across processes.
package mesh

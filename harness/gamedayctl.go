package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/result"
)

// GameDaySocket is where a game day listens: beside the fault journal, in
// a directory that is yours alone (journal.DefaultDir).
func GameDaySocket() string { return filepath.Join(journal.DefaultDir(), "gameday.sock") }

// InjectRequest asks a game day for a catalogue fault.
type InjectRequest struct {
	Fault  string        `json:"fault"`
	Target string        `json:"target"`
	Params faults.Params `json:"params"`
	For    time.Duration `json:"for"`
}

// GameDayStatus is what `faultline status` shows.
type GameDayStatus struct {
	RunDir   string              `json:"run_dir"`
	Platform string              `json:"platform"`
	Entry    map[string][]string `json:"entry"`
	Faults   []FaultState        `json:"faults"`
	Journeys []JourneyNow        `json:"journeys"`
}

// DownReport is what `faultline down` prints.
type DownReport struct {
	RunDir   string        `json:"run_dir"`
	Verdict  check.Verdict `json:"verdict"`
	Failures []string      `json:"failures,omitempty"`
	Unknown  []string      `json:"unknown,omitempty"` // why the checks that could not tell said so
	Error    string        `json:"error,omitempty"`
}

// NewDownReport is the report of a game day that ended with res (and
// err, if saving the run failed).
func NewDownReport(dir string, res result.Scenario, err error) DownReport {
	rep := DownReport{RunDir: dir, Verdict: res.Verdict, Failures: res.Failures}
	for _, c := range res.Checks {
		if c.Verdict == check.Unknown && !c.Informational {
			what := c.Check
			if c.Journey != "" {
				what += " " + c.Journey
			}
			rep.Unknown = append(rep.Unknown, what+": "+c.Summary)
		}
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

// Serve answers the control socket until closed (the returned function
// closes it and removes the socket) or a client asks for Down, which it
// runs; down receives Down's report once. Another game day already up is
// refused.
func (g *GameDay) Serve() (down <-chan DownReport, closeSocket func(), err error) {
	path := GameDaySocket()
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, nil, fmt.Errorf("a game day is already up (%s): faultline down first", path)
	}
	_ = os.Remove(path) // a stale socket of a game day that died
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, nil, err
	}
	out := make(chan DownReport, 1)
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		reply(w, GameDayStatus{RunDir: g.RunDir(), Platform: g.Platform(), Entry: g.EntryPoints(), Faults: g.Status(), Journeys: g.Journeys()}, nil)
	})
	mux.HandleFunc("POST /inject", func(w http.ResponseWriter, r *http.Request) {
		var req InjectRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, err)
			return
		}
		// The fault outlives the request that asked for it.
		st, err := g.Inject(context.WithoutCancel(r.Context()), req.Fault, req.Target, req.Params, req.For)
		reply(w, st, err)
	})
	mux.HandleFunc("POST /recover", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		err := g.Recover(context.WithoutCancel(r.Context()), id)
		reply(w, g.Status(), err)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) {
		res, err := g.Down(context.WithoutCancel(r.Context()))
		rep := NewDownReport(g.RunDir(), res, err)
		reply(w, rep, nil)
		select {
		case out <- rep:
		default: // a second down: the first one's report is already out
		}
	})
	go func() { _ = srv.Serve(l) }()
	var once sync.Once
	closeSocket = func() {
		once.Do(func() {
			// Down's report goes out before the socket closes: its handler
			// hands it to down and only then returns, and Close would cut
			// the connection it is still being written to (the client saw
			// EOF). Shutdown waits for handlers to finish, up to a bound.
			ctx, cancel := context.WithTimeout(context.Background(), closeWait)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				_ = srv.Close()
			}
			_ = os.Remove(path)
		})
	}
	return out, closeSocket, nil
}

// closeWait bounds how long closing the control socket waits for requests
// being answered.
const closeWait = 5 * time.Second

// GameDayClient talks to the game day up on this machine.
type GameDayClient struct{ http *http.Client }

// DialGameDay returns a client of the game day up, or an error saying
// there is none.
func DialGameDay() (*GameDayClient, error) {
	path := GameDaySocket()
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, fmt.Errorf("no game day is up (%s): start one with faultline up", path)
	}
	c.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	// No timeout: down drains and audits the bank, which can take minutes.
	return &GameDayClient{http: &http.Client{Transport: tr}}, nil
}

func (c *GameDayClient) do(ctx context.Context, method, path string, body, out any) error {
	var b bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&b).Encode(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://gameday"+path, &b)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
			return fmt.Errorf("game day answered %s", resp.Status)
		}
		return errors.New(e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Status asks for the game day's status.
func (c *GameDayClient) Status(ctx context.Context) (GameDayStatus, error) {
	var st GameDayStatus
	return st, c.do(ctx, http.MethodGet, "/status", nil, &st)
}

// Inject asks for a fault.
func (c *GameDayClient) Inject(ctx context.Context, req InjectRequest) (FaultState, error) {
	var st FaultState
	return st, c.do(ctx, http.MethodPost, "/inject", req, &st)
}

// Recover asks for a fault's recovery ("" every fault on).
func (c *GameDayClient) Recover(ctx context.Context, id string) ([]FaultState, error) {
	var st []FaultState
	return st, c.do(ctx, http.MethodPost, "/recover?id="+url.QueryEscape(id), nil, &st)
}

// Down ends the game day and returns its verdict.
func (c *GameDayClient) Down(ctx context.Context) (DownReport, error) {
	var rep DownReport
	return rep, c.do(ctx, http.MethodPost, "/down", nil, &rep)
}

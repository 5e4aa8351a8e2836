package local

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/topology"
)

// proc is one supervised instance: its process is restarted after
// RestartDelay whenever it exits, as a ReplicaSet would, until stop.
type proc struct {
	platform.Instance
	args     []string
	readyURL string

	mu       sync.Mutex
	pid      int
	process  *os.Process // handle (pidfd) of the running process; nil between runs
	ready    bool
	stopping bool
	held     chan struct{}     // while not nil, the instance is kept from starting; closed to let it
	starting bool              // the supervisor is starting a process (set by mayStart, cleared once it has a PID)
	cgroups  map[string]string // controller -> group every new process joins (a Limit in place)
	group    string            // the cgroup v2 group every process starts in (storeNet), if any
	wake     chan struct{}     // closed by stop to cut a restart delay short
	done     chan struct{}     // closed when the supervisor returns
}

func (p *Platform) supervise(ctx context.Context, pr *proc) {
	defer close(pr.done)
	gen := 0
	for {
		gen++
		if !mayStart(ctx, pr) {
			return
		}
		cmd, err := p.startProcess(pr)
		if err != nil {
			pr.mu.Lock()
			pr.starting = false
			pr.mu.Unlock()
		}
		if err == nil {
			go p.watchReady(ctx, pr, cmd.Process.Pid)
			err = cmd.Wait()
			pr.mu.Lock()
			pr.pid, pr.process, pr.ready = 0, nil, false
			pr.mu.Unlock()
			_ = p.journal.Remove("proc-" + pr.Name)
		}
		p.emit(platform.EventExited, pr.Name, exitDetail(err))
		pr.mu.Lock()
		stopping := pr.stopping
		pr.mu.Unlock()
		if stopping || ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(p.opts.RestartDelay):
		case <-pr.wake:
			return
		case <-ctx.Done():
			return
		}
	}
}

// mayStart waits while the instance is kept down (Offline), then marks it
// starting; false when the supervisor must stop instead.
func mayStart(ctx context.Context, pr *proc) bool {
	for {
		pr.mu.Lock()
		held := pr.held
		if held == nil {
			pr.starting = true
			pr.mu.Unlock()
			return true
		}
		pr.mu.Unlock()
		select {
		case <-held:
		case <-pr.wake:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func exitDetail(err error) string {
	if err == nil {
		return platform.ExitedCleanly
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
	}
	return err.Error()
}

func (p *Platform) startProcess(pr *proc) (*exec.Cmd, error) {
	logf, err := os.OpenFile(filepath.Join(p.opts.RunDir, "logs", pr.Name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- %s start: %s %v\n", time.Now().Format(time.RFC3339Nano), p.bin, pr.args)
	cmd := exec.Command(p.bin, pr.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "BANK_STORE_REPLICAS=3", "BANK_ADMIN_TOKEN="+p.token)
	if pr.Service == "card-api" {
		cmd.Env = append(cmd.Env, "BANK_CARD_KEY="+hex.EncodeToString(p.cardKey))
	}
	if pr.Service == topology.Store {
		cmd.Env = append(cmd.Env, store.KeyEnv+"="+hex.EncodeToString(p.storeKey))
	} else {
		id, err := p.id.Credentials(pr.Service)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, store.PasswordEnv+"="+p.StorePassword(pr.Service))
		cmd.Env = append(cmd.Env, id.Env()...)
	}
	// Own process group (so signals to the harness's group do not reach it)
	// and killed by the kernel if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if pr.group != "" {
		// Started in its group, so that its first connection is marked
		// as its own (storeNet).
		fd, err := openGroup(pr.group)
		if err != nil {
			return nil, fmt.Errorf("start %s in its group: %w", pr.Name, err)
		}
		defer syscall.Close(fd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", pr.Name, err)
	}
	pid := cmd.Process.Pid
	// Until cmd.Wait the PID stays ours (a zombie keeps it), so the
	// identity read now is this process's.
	e := journal.Entry{Kind: journal.KindProcess, ID: "proc-" + pr.Name, Target: pr.Name, PIDs: []int{pid}, Exe: p.bin}
	if id, err := journal.Identify(pid); err == nil {
		e.Procs = []journal.Proc{id}
	}
	_ = p.journal.Write(e)
	// Held to the limits in place, as a restarted container is, before it
	// is known to run. It ran unlimited for the moments since its start:
	// what it allocated then stays charged to the harness's group.
	pr.mu.Lock()
	groups := pr.cgroups
	pr.mu.Unlock()
	if err := joinCgroups(pid, groups); err != nil {
		fmt.Fprintf(logf, "--- not limited: %v\n", err)
	}
	pr.mu.Lock()
	pr.pid, pr.process, pr.ready, pr.starting = pid, cmd.Process, false, false
	pr.mu.Unlock()
	p.emit(platform.EventStarted, pr.Name, fmt.Sprintf("pid %d", pid))
	return cmd, nil
}

// watchReady polls the instance's readiness until it is ready or its
// process is replaced.
func (p *Platform) watchReady(ctx context.Context, pr *proc, pid int) {
	client := platform.HTTPClient(p, 500*time.Millisecond)
	for ctx.Err() == nil {
		pr.mu.Lock()
		current := pr.pid == pid
		pr.mu.Unlock()
		if !current {
			return
		}
		resp, err := client.Get(pr.readyURL)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body) // the connection serves the next poll
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				pr.mu.Lock()
				if pr.pid == pid {
					pr.ready = true
				}
				pr.mu.Unlock()
				p.emit(platform.EventReady, pr.Name, "")
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// current returns the handle of the running process, or nil.
func (pr *proc) current() *os.Process {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.process
}

// stop ends supervision and the process: SIGTERM, then SIGKILL after grace.
// A paused process is resumed first so that it can exit. Signals go through
// the process handle, so they never reach a process that took its PID.
func (pr *proc) stop(grace time.Duration) {
	pr.mu.Lock()
	if !pr.stopping {
		pr.stopping = true
		close(pr.wake)
	}
	pr.mu.Unlock()
	if h := pr.current(); h != nil {
		_ = h.Signal(syscall.SIGCONT)
		_ = h.Signal(syscall.SIGTERM)
	}
	select {
	case <-pr.done:
		return
	case <-time.After(grace):
	}
	if h := pr.current(); h != nil {
		_ = h.Signal(syscall.SIGKILL)
	}
	<-pr.done
}

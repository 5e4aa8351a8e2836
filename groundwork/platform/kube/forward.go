package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// forwards keeps one port-forward on 127.0.0.1 per pod incarnation (UID)
// and port. A forward dies with its pod; the next call for the instance
// opens one to the pod that replaced it.
type forwards struct {
	cfg *rest.Config
	cs  kubernetes.Interface
	ns  string

	mu   sync.Mutex
	open map[string]*forward // uid/port
}

type forward struct {
	addr string
	stop chan struct{}
	done chan struct{}
}

func newForwards(cfg *rest.Config, cs kubernetes.Interface, ns string) *forwards {
	return &forwards{cfg: cfg, cs: cs, ns: ns, open: map[string]*forward{}}
}

// to returns the local address of a forward to port of pod, opening one
// if there is none alive.
func (f *forwards) to(ctx context.Context, pod *corev1.Pod, port int) (string, error) {
	if pod == nil {
		return "", errors.New("no pod")
	}
	key := fmt.Sprintf("%s/%d", pod.UID, port)
	f.mu.Lock()
	if fw, ok := f.open[key]; ok {
		select {
		case <-fw.done:
			delete(f.open, key)
		default:
			f.mu.Unlock()
			return fw.addr, nil
		}
	}
	f.mu.Unlock()
	fw, err := f.start(ctx, pod.Name, port)
	if err != nil {
		return "", fmt.Errorf("port-forward to %s:%d: %w", pod.Name, port, err)
	}
	f.mu.Lock()
	if old, ok := f.open[key]; ok {
		f.mu.Unlock()
		close(fw.stop)
		return old.addr, nil
	}
	f.open[key] = fw
	f.mu.Unlock()
	return fw.addr, nil
}

func (f *forwards) start(ctx context.Context, pod string, port int) (*forward, error) {
	req := f.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.ns).Name(pod).SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(f.cfg)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, req.URL())
	fw := &forward{stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, fw.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() {
		defer close(fw.done)
		errc <- pf.ForwardPorts()
	}()
	select {
	case <-ready:
	case err := <-errc:
		return nil, err
	case <-ctx.Done():
		close(fw.stop)
		return nil, ctx.Err()
	case <-time.After(15 * time.Second):
		close(fw.stop)
		return nil, errors.New("not ready after 15s")
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(fw.stop)
		return nil, fmt.Errorf("no local port: %v", err)
	}
	fw.addr = fmt.Sprintf("127.0.0.1:%d", ports[0].Local)
	return fw, nil
}

func (f *forwards) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, fw := range f.open {
		select {
		case <-fw.done:
		default:
			close(fw.stop)
		}
		delete(f.open, k)
	}
}

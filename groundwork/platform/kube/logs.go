package kube

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// copyLogs appends the logs of pod's bank container id to
// RunDir/logs/<pod>.log (0600, like the local platform's), once per
// container, until the container ends or ctx is done.
func (p *Platform) copyLogs(ctx context.Context, pod, id string) {
	p.mu.Lock()
	if p.logs[id] {
		p.mu.Unlock()
		return
	}
	p.logs[id] = true
	p.mu.Unlock()
	container := "bank"
	if pd := p.Pod(pod); pd != nil {
		if st := bankStatus(pd); st != nil {
			container = st.Name
		}
	}
	go func() {
		f, err := os.OpenFile(filepath.Join(p.o.RunDir, "logs", pod+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "--- %s start: container %s\n", time.Now().UTC().Format(time.RFC3339Nano), shortID(id))
		rc, err := p.cs.CoreV1().Pods(p.o.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
		if err != nil {
			fmt.Fprintf(f, "--- logs unavailable: %v\n", err)
			return
		}
		defer rc.Close()
		_, _ = io.Copy(f, rc)
	}()
}

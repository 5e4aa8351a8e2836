package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// PodDelete deletes the selected instances' pods (platform.Pods), as
// `kubectl delete pod`, a node drain or an eviction does: SIGTERM, the
// grace period (the pod's own, unless Grace is set), SIGKILL if the
// container is still running; the StatefulSet then makes a new pod of the
// same name. It is not Kill, which kills the container in place: the new
// pod starts from nothing (a new sandbox and address, its sidecar's links
// made again). Recover waits until the new pods are ready.
//
// The local platform has no pods: there it is unsupported (GracefulStop
// is the nearest fault), and scenarios built on it skip.
type PodDelete struct {
	Target Selector
	Grace  time.Duration // 0: the pod's own grace period

	deleted []string
	uids    map[string]string
}

// Name implements Fault.
func (d *PodDelete) Name() string {
	if d.Grace > 0 {
		return fmt.Sprintf("delete pod of %s (grace %v)", d.Target, d.Grace)
	}
	return "delete pod of " + d.Target.String()
}

// Services implements Targeted.
func (d *PodDelete) Services() []string { return []string{d.Target.service()} }

// Validate implements Fault.
func (d *PodDelete) Validate() error {
	if d.Grace < 0 {
		return fmt.Errorf("pod delete: negative grace %v", d.Grace)
	}
	return d.Target.Validate()
}

// Inject implements Fault.
func (d *PodDelete) Inject(ctx context.Context, env *Env) error {
	pods, err := platform.As[platform.Pods](env.Platform, "pod delete")
	if err != nil {
		return err
	}
	insts, err := d.Target.Pick(env)
	if err != nil {
		return err
	}
	d.deleted = names(insts)
	d.uids = map[string]string{}
	if err := env.Journal.Write(journal.Entry{Kind: "pod-delete", ID: env.ID, Target: strings.Join(d.deleted, ",")}); err != nil {
		return err
	}
	grace := time.Duration(-1)
	if d.Grace > 0 {
		grace = d.Grace
	}
	for _, in := range insts {
		uid, _, ok := pods.PodOf(in.Name)
		if !ok {
			return fmt.Errorf("pod delete: %s has no pod", in.Name)
		}
		d.uids[in.Name] = uid
		if err := pods.DeletePod(ctx, in.Name, uid, grace); err != nil {
			return err
		}
	}
	return nil
}

// Verify implements Fault: each deleted pod is being deleted or already
// replaced by a new one.
func (d *PodDelete) Verify(ctx context.Context, env *Env) (string, error) {
	pods, err := platform.As[platform.Pods](env.Platform, "pod delete")
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range d.deleted {
		err := until(ctx, deadline, 100*time.Millisecond, func() (bool, error) {
			uid, deleting, ok := pods.PodOf(name)
			return !ok || deleting || uid != d.uids[name], nil
		})
		if errors.Is(err, errDeadline) {
			return "", fmt.Errorf("pod %s (%s) is not being deleted", name, d.uids[name])
		}
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("pods of %s deleted", strings.Join(d.deleted, ", ")), nil
}

// Recover implements Fault: wait for each new pod (a new UID), then for it
// to be ready; the old pod's readiness says nothing about the new one.
func (d *PodDelete) Recover(ctx context.Context, env *Env) error {
	pods, err := platform.As[platform.Pods](env.Platform, "pod delete")
	if err != nil {
		return env.Journal.Remove(env.ID)
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, name := range d.deleted {
		err := until(ctx, deadline, 200*time.Millisecond, func() (bool, error) {
			uid, deleting, ok := pods.PodOf(name)
			return ok && !deleting && uid != d.uids[name], nil
		})
		if errors.Is(err, errDeadline) {
			return fmt.Errorf("pod %s: no new pod within 90s", name)
		}
		if err != nil {
			return err
		}
	}
	if err := waitReady(ctx, env, d.deleted, time.Until(deadline)); err != nil {
		return err
	}
	return env.Journal.Remove(env.ID)
}

// SelfHealing reports that the platform repairs a deleted pod by itself:
// recovery time counts from the delete.
func (d *PodDelete) SelfHealing() bool { return true }

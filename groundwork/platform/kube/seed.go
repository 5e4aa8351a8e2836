package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline/faultline/system/deploy"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/topology"
)

// Seed implements platform.Seeder with a Job that runs the bank's seeder
// against the store nodes. The data is generated from the seed, so the
// harness knows it without reading the Job's output.
func (p *Platform) Seed(ctx context.Context, n int, sd int64) (seed.Data, error) {
	var stores []string
	for i := range topology.StoreNodes {
		stores = append(stores, fmt.Sprintf("nats://store-%d.store.%s.svc.cluster.local:%d", i, p.o.Namespace, deploy.StoreClient))
	}
	backoff, never := int32(2), false
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "seed", Namespace: p.o.Namespace, Labels: map[string]string{"faultline.dev/run": p.o.Run}},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: &never,
				Containers: []corev1.Container{{Name: "seed", Image: p.o.Image, ImagePullPolicy: corev1.PullNever,
					Args: []string{"seed", "--store", strings.Join(stores, ","), "--customers", fmt.Sprint(n), "--seed", fmt.Sprint(sd)},
					Env: []corev1.EnvVar{{Name: "BANK_STORE_REPLICAS", Value: fmt.Sprint(topology.StoreNodes)},
						{Name: "BANK_SEED_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "bank-admin"}, Key: "seed"}}},
						{Name: store.PasswordEnv, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "bank-admin"}, Key: "store-" + store.SeedUser}}}}}},
			}},
		},
	}
	if _, err := p.cs.BatchV1().Jobs(p.o.Namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return seed.Data{}, fmt.Errorf("seed job: %w", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		j, err := p.cs.BatchV1().Jobs(p.o.Namespace).Get(ctx, "seed", metav1.GetOptions{})
		if err != nil {
			return seed.Data{}, err
		}
		for _, c := range j.Status.Conditions {
			switch {
			case c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue:
				return seed.Generate(n, sd, p.seedKey), nil
			case c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue:
				return seed.Data{}, fmt.Errorf("seed job failed: %s (kubectl -n %s logs job/seed)", c.Message, p.o.Namespace)
			}
		}
		select {
		case <-ctx.Done():
			return seed.Data{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return seed.Data{}, fmt.Errorf("seed job not complete after 3 minutes (kubectl -n %s logs job/seed)", p.o.Namespace)
}

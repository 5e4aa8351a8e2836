package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/kind/cluster"
	"github.com/faultline/faultline/kind/hostsetup"
	"github.com/faultline/faultline/kind/nodeimage"
)

const kindUsage = `usage: faultline kind host | image | create [-name N] [-config F] | delete [-name N]
  host    install and start what kind needs (Docker Engine, the firewall rule
          that keeps container traffic on this machine, the runc wrapper
          where the host needs it); print what changed
  image   host, then build the offline node image (cached by its inputs)
  create  host and image, then create the cluster (or reuse it)
  delete  delete the cluster`

// runKind runs `faultline kind ...`: the offline kind cluster's set-up.
func runKind(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(kindUsage)
	}
	fs := flag.NewFlagSet("kind "+args[0], flag.ContinueOnError)
	name := fs.String("name", cluster.DefaultName, "cluster name")
	config := fs.String("config", "kind-config.yaml", "kind configuration")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	repo, err := local.ModuleRoot()
	if err != nil {
		return fmt.Errorf("faultline kind: run it from inside the faultline repository: %w", err)
	}
	host := func() error {
		_, err := hostsetup.Ensure(ctx, hostsetup.Options{Repo: repo, Out: os.Stdout})
		return err
	}
	image := func() (nodeimage.Image, error) {
		if err := host(); err != nil {
			return nodeimage.Image{}, err
		}
		return nodeimage.Build(ctx, nodeimage.Options{Repo: repo, Out: os.Stdout})
	}
	switch args[0] {
	case "host":
		return host()
	case "image":
		img, err := image()
		if err == nil {
			fmt.Printf("%s\n%s\n", img.Ref, img.Archive)
		}
		return err
	case "create":
		img, err := image()
		if err != nil {
			return err
		}
		start := time.Now()
		c, err := cluster.Ensure(ctx, cluster.Options{Name: *name, Config: *config, Image: img.Exact, Out: os.Stdout})
		if err != nil {
			return err
		}
		fmt.Printf("cluster %s ready in %v; kubeconfig %s\n", c.Name, time.Since(start).Round(time.Second), c.Kubeconfig)
		return nil
	case "delete":
		return cluster.Delete(*name)
	}
	return errors.New(kindUsage)
}

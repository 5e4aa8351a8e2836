package main

import (
	"errors"
	"flag"
	"os"

	"github.com/faultline/faultline/system/deploy"
)

func runManifests(args []string) error {
	fs := flag.NewFlagSet("manifests", flag.ContinueOnError)
	var o deploy.Options
	fs.StringVar(&o.Namespace, "namespace", "bank", "namespace of every object")
	fs.StringVar(&o.Image, "image", deploy.DefaultImage, "the bank's image")
	fs.StringVar(&o.Run, "run", "", "run label (faultline.dev/run) on every object")
	fs.StringVar(&o.StorageClass, "storage-class", "", "storage class of the store nodes' volumes (empty: emptyDir)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return deploy.Write(os.Stdout, o)
}

package main

import (
	"os"

	"github.com/faultline/faultline/system/deploy"
)

func runManifests(args []string) error {
	return deploy.Write(os.Stdout, deploy.Options{})
}

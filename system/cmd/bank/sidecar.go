package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/faultline/faultline/system/sidecar"
)

// linkFlag collects repeated --link name=listen=upstream flags.
type linkFlag []sidecar.Link

func (l *linkFlag) String() string { return fmt.Sprint(*l) }

func (l *linkFlag) Set(v string) error {
	for _, one := range strings.Split(v, ";") {
		link, err := sidecar.ParseLink(one)
		if err != nil {
			return err
		}
		*l = append(*l, link)
	}
	return nil
}

func runSidecar(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	var links linkFlag
	api := fs.String("api", env("BANK_SIDECAR_API", fmt.Sprintf("127.0.0.1:%d", sidecar.APIPort)), "host:port of the toxiproxy API")
	fs.Var(&links, "link", "a proxy: caller->callee=listen=upstream (repeatable, or ';'-separated in BANK_SIDECAR_LINKS)")
	if v := env("BANK_SIDECAR_LINKS", ""); v != "" {
		if err := links.Set(v); err != nil {
			return err
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return sidecar.Run(ctx, *api, links)
}

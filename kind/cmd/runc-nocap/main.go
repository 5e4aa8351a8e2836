// Command runc-nocap is a runc wrapper for hosts whose capability bounding
// set lacks CAP_SYS_RESOURCE (some sandboxed machines). kind runs every node
// container privileged, and a privileged container asks for every
// capability; runc then fails with "unable to apply caps: operation not
// permitted". Registered as Docker's default runtime by `faultline kind
// host` on such hosts only, it removes CAP_SYS_RESOURCE from the container's
// capability lists (the bundle's config.json, or the process spec of an
// exec) and runs the real runc with the same arguments.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// realRunc is the runc this wrapper hands over to.
const realRunc = "/usr/sbin/runc"

// dropped is the capability the host cannot grant.
const dropped = "CAP_SYS_RESOURCE"

func main() {
	args := os.Args
	if b := flagValue(args, "bundle", "b"); b != "" {
		if err := patch(filepath.Join(b, "config.json"), true); err != nil {
			fmt.Fprintln(os.Stderr, "runc-nocap:", err)
			os.Exit(1)
		}
	}
	if p := flagValue(args, "process", "p"); p != "" {
		if err := patch(p, false); err != nil {
			fmt.Fprintln(os.Stderr, "runc-nocap:", err)
			os.Exit(1)
		}
	}
	args[0] = realRunc
	if err := syscall.Exec(realRunc, args, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "runc-nocap: exec runc:", err)
		os.Exit(1)
	}
}

// flagValue returns the value of --long or -short in args, in either the
// "--long value" or the "--long=value" form.
func flagValue(args []string, long, short string) string {
	for i, a := range args {
		for _, f := range []string{"--" + long, "-" + short} {
			if a == f && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				return v
			}
		}
	}
	return ""
}

// patch removes the capability from the file's capability lists: those of
// its "process" (a bundle's config.json) or its own (an exec's process
// spec). Every other field is kept as it was.
func patch(path string, bundle bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	proc := doc
	if bundle {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return nil
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := list[:0:0]
		for _, c := range list {
			if c != dropped {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(list) {
			caps[set], changed = kept, true
		}
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, st.Mode().Perm())
}

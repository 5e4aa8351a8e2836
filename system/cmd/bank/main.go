// Command bank runs one process of the bank: a service replica, a store node,
// or the seeder. One static binary serves every pod and every local process.
//
//	bank <service> --listen 127.0.0.1:8080 --store nats://127.0.0.1:4222 --peer balance=127.0.0.1:9001,127.0.0.1:9002
//	bank store --name store-0 --client-port 4222 --cluster-port 6222 --routes nats-route://127.0.0.1:6223 --dir /data
//	bank seed --store nats://127.0.0.1:4222 --customers 200 --out seed.json
//
// Flags may also be given as environment variables: BANK_LISTEN, BANK_STORE,
// BANK_PEERS ("dep=a,b;dep2=c"), BANK_ADMIN=1, BANK_INSTANCE. The run's
// secrets come only from the environment: BANK_ADMIN_TOKEN, BANK_CARD_KEY,
// BANK_SEED_KEY, BANK_STORE_PASSWORD, and the process's certificate
// (BANK_TLS_CA, BANK_TLS_CERT, BANK_TLS_KEY, and BANK_TLS_TICKET_KEY shared
// by the service's replicas; without the first three it speaks plain
// HTTP and authorises no route).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/faultline/faultline/system/topology"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if err := topology.Validate(); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		usage()
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "store":
		return runStore(ctx, rest)
	case "seed":
		return runSeed(ctx, rest)
	case "manifests":
		return runManifests(rest)
	case "burn":
		return runBurn(ctx, rest)
	case "hog":
		return runHog(ctx, rest)
	case "sidecar":
		return runSidecar(ctx, rest)
	}
	setup, ok := setups[cmd]
	if !ok {
		usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
	return runService(ctx, cmd, setup, rest)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bank <command> [flags]\n\ncommands:")
	fmt.Fprintln(os.Stderr, "  store       run a store node (embedded NATS JetStream)")
	fmt.Fprintln(os.Stderr, "  seed        create the seeded customers")
	fmt.Fprintln(os.Stderr, "  manifests   print the Kubernetes manifests of the mesh")
	fmt.Fprintln(os.Stderr, "  burn        burn CPU (for the CPU pressure fault)")
	fmt.Fprintln(os.Stderr, "  hog         take memory (for the OOM kill fault)")
	fmt.Fprintln(os.Stderr, "  sidecar     run a pod's fault sidecar: a proxy per link to a callee instance")
	fmt.Fprintln(os.Stderr, "\nservices:")
	names := make([]string, 0, len(setups))
	for n := range setups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s, _ := topology.Lookup(n)
		fmt.Fprintf(os.Stderr, "  %-23s tier %d: %s\n", n, s.Tier, s.Desc)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'bank <command> --help' for its flags")
}

// Package cli is the kanta-gateway command line: every subcommand is a
// thin layer over the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
)

// Exit codes shared by every command.
const (
	ExitOK       = 0
	ExitFailure  = 1 // anything else
	ExitUsage    = 2 // usage or configuration error
	ExitRejected = 3 // an entry was rejected or a document dead-lettered
	// ExitRetryLater (once): nothing was rejected or dead-lettered, but
	// some due document is not acknowledged yet and waits for a retry;
	// the summary names the earliest retry time.
	ExitRetryLater = 4
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error { return &exitError{ExitUsage, err} }

// app holds what every command shares: streams, flags, loaded config.
type app struct {
	in          io.Reader
	out, errOut io.Writer
	configPath  string
	nowFlag     string
	cfg         *config.Config
	clock       clock.Clock
	logger      *slog.Logger
	// term is set while demo or once run on a terminal (terminal.go);
	// onceLogFile is once's --log-file.
	term        *terminalSession
	onceLogFile string
}

// Main runs the command line and returns the process exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	a := &app{in: in, out: out, errOut: errOut}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(errOut, "kanta-gateway:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(errOut, "kanta-gateway:", err)
	// cobra's own flag and argument errors are usage errors.
	return ExitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "kanta-gateway",
		Short:         "Deliver student-welfare record entries from Apotti export batches to Kanta",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", os.Getenv("KANTA_GATEWAY_CONFIG"), "configuration file (YAML); defaults apply without one")
	root.PersistentFlags().StringVar(&a.nowFlag, "now", os.Getenv("KANTA_GATEWAY_NOW"), "pretend the time is this RFC 3339 instant (also KANTA_GATEWAY_NOW)")
	root.AddCommand(a.commands()...)
	return root
}

// untilSignal loads the configuration and runs fn with a context that
// SIGTERM or SIGINT cancels: the long-running commands stop gracefully.
func (a *app) untilSignal(fn func(ctx context.Context) error) error {
	if err := a.load(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return fn(ctx)
}

// load reads the configuration and sets up the clock and logger. Errors
// are usage errors (exit 2).
func (a *app) load() error {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return usageErr(err)
	}
	a.cfg = cfg
	a.clock = clock.System{}
	if a.nowFlag != "" {
		t, err := time.Parse(time.RFC3339, a.nowFlag)
		if err != nil {
			return usageErr(fmt.Errorf("--now %q: not an RFC 3339 time (e.g. 2026-08-31T12:00:00+03:00)", a.nowFlag))
		}
		a.clock = clock.NewOffset(t)
	}
	a.logger = newLogger(a.errOut, cfg.Log.Format, cfg.Log.Level)
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"podium/engine"
	"podium/game"
	"podium/server"
)

// signInLinkTTL is how long a link printed by the command line works.
const signInLinkTTL = 72 * time.Hour

func publicURL(cfg Config, addr net.Addr) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	return browseURL(addr)
}

// firstAdmin creates the first admin when there are no users yet and prints
// a one-time link that sets their password.
func firstAdmin(ctx context.Context, dir engine.Directory, cfg Config, base string, stdout io.Writer) error {
	n, err := dir.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	email, _ := game.NormalizeEmail("", cfg.AdminEmail)
	u, err := dir.CreateUser(ctx, game.User{Email: email, Name: "Admin", Role: game.RoleAdmin}, game.ActorSystem)
	if game.ErrorCode(err) == game.EConflict {
		return nil // another node starting at the same moment created them
	}
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	link, err := server.IssueLink(ctx, dir, base, u.ID, signInLinkTTL, time.Now(), game.ActorSystem)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n  First start: the admin is %s. Set their password with this link\n  (it works once, until %s):\n\n    %s\n\n  Lost it? Run: podium user reset --email %s\n\n",
		email, link.ExpiresAt.Format(time.RFC1123), link.Link, email)
	return nil
}

// runAdmin runs "podium user …" and "podium audit …". Their database
// settings come from the environment (DATABASE_URL, PODIUM_DATA_DIR), their
// flags are the subcommand's own.
func runAdmin(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig(cmd, nil, getenv, stderr)
	if err != nil {
		return err
	}
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	usage := map[string]string{
		"user":  "usage: podium user create --email E --name N --role admin|finance|manager|rep [--rep ID] [--teams 1,2] | podium user reset --email E",
		"audit": "usage: podium audit verify | podium audit export > audit.ndjson",
	}[cmd]
	run := map[string]func(context.Context, relational, Config, []string, io.Writer, io.Writer) error{
		"user create":  userCreate,
		"user reset":   userReset,
		"audit verify": auditVerify,
		"audit export": auditExport,
	}[cmd+" "+sub]
	if run == nil {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown or missing subcommand %q", sub)
	}
	s, _, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	return run(ctx, s, cfg, args, stdout, stderr)
}

func baseForCLI(cfg Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func userCreate(ctx context.Context, s relational, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("podium user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "sign-in email (required)")
	name := fs.String("name", "", "display name (required)")
	role := fs.String("role", "rep", "admin, finance, manager or rep")
	rep := fs.Int64("rep", 0, "the rep this user is (required for role rep)")
	teams := fs.String("teams", "", "teams a manager manages, comma-separated ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := game.NormalizeEmail("email", *email)
	if err != nil {
		return errors.New(game.AsError(err).Message + " (--email)")
	}
	u := game.User{Email: e, Name: strings.TrimSpace(*name), Role: game.Role(*role), RepID: *rep}
	for _, t := range strings.Split(*teams, ",") {
		if t = strings.TrimSpace(t); t != "" {
			id, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				return fmt.Errorf("--teams: %q is not a team id", t)
			}
			u.Teams = append(u.Teams, id)
		}
	}
	if err := game.ValidateUser(u); err != nil {
		return cliError(err)
	}
	u, err = s.CreateUser(ctx, u, game.ActorCLI)
	if err != nil {
		return cliError(err)
	}
	link, err := server.IssueLink(ctx, s, baseForCLI(cfg), u.ID, signInLinkTTL, time.Now(), game.ActorCLI)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (user %d). Send them this link to set their password; it works once, until %s:\n%s\n",
		u.Role, u.Email, u.ID, link.ExpiresAt.Format(time.RFC1123), link.Link)
	return nil
}

func userReset(ctx context.Context, s relational, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("podium user reset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the user's email (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := game.NormalizeEmail("email", *email)
	if err != nil {
		return errors.New(game.AsError(err).Message + " (--email)")
	}
	u, err := s.UserByEmail(ctx, e)
	if err != nil {
		return cliError(err)
	}
	link, err := server.IssueLink(ctx, s, baseForCLI(cfg), u.ID, signInLinkTTL, time.Now(), game.ActorCLI)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password link for %s (works once, until %s):\n%s\n", u.Email, link.ExpiresAt.Format(time.RFC1123), link.Link)
	return nil
}

func auditVerify(ctx context.Context, s relational, _ Config, _ []string, stdout, _ io.Writer) error {
	n, broken, err := server.VerifyAudit(ctx, s)
	if err != nil {
		return fmt.Errorf("read the audit log: %w", err)
	}
	if broken != nil {
		return fmt.Errorf("the audit log does NOT verify (%d entries are intact before the break): %w", n, broken)
	}
	fmt.Fprintf(stdout, "audit log verified: %d entries, chain intact\n", n)
	return nil
}

func auditExport(ctx context.Context, s relational, _ Config, _ []string, stdout, _ io.Writer) error {
	enc := json.NewEncoder(stdout)
	return server.EachAudit(ctx, s, func(e game.AuditEntry) error { return enc.Encode(e) })
}

// cliError turns a domain error into a line for the terminal.
func cliError(err error) error {
	if ge := game.AsError(err); ge != nil {
		if ge.Field != "" {
			return fmt.Errorf("%s (%s)", ge.Message, ge.Field)
		}
		return errors.New(ge.Message)
	}
	return err
}

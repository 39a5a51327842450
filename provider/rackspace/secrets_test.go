package rackspace_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/rackspace"
)

// syncBuffer is a log sink safe for the driver's concurrent deletes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCredentialsNeverReachLogsErrorsOrPrintedOptions(t *testing.T) {
	srv := newCloud(t, nil)
	so := srv.Options()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var texts []string // every error message and printed value to search
	collect := func(err error) {
		if err != nil {
			texts = append(texts, fmt.Sprintf("%v|%+v|%#v", err, err, err))
		}
	}
	ctx := context.Background()

	for _, options := range []func(*novatest.Server) rackspace.Options{apiKeyOptions, passwordOptions,
		func(srv *novatest.Server) rackspace.Options {
			return rackspace.Options{IdentityEndpoint: srv.IdentityV3URL(),
				ApplicationCredentialID: so.AppCredentialID, ApplicationCredentialSecret: so.AppCredentialSecret}
		}} {
		o := options(srv)
		o.Logger = logger
		o.MaxRetryWait = time.Millisecond // fail throttled calls at once
		texts = append(texts, fmt.Sprintf("%v|%+v|%#v|%s", o, o, o, o))
		logger.Info("options", "opts", o)
		p, err := rackspace.New(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		token := tokenOf(t, p)
		spec := launchSpec("t-secret-"+p.Name(), 2)
		spec.SSHPublicKey = newKey(t)
		servers, err := p.Launch(ctx, spec)
		collect(err)
		collect(p.Reboot(ctx, servers[0].ID))
		_, err = p.Get(ctx, unknownID)
		collect(err)
		srv.Throttle(1, 429, time.Hour)
		_, err = p.List(ctx, provider.ListOptions{})
		collect(err)
		srv.ExpireTokens()
		collect(p.Terminate(ctx, serverIDs(servers)...))
		_, err = p.Get(ctx, servers[0].ID)
		collect(err)
		texts = append(texts, token)
		secretsAbsent(t, logs.String()+strings.Join(texts[:len(texts)-1], "\n"), token)
	}
	// Failed logins.
	for _, o := range []rackspace.Options{
		{IdentityEndpoint: srv.IdentityV2URL(), Username: so.Username, APIKey: so.APIKey + "x", Logger: logger},
		{IdentityEndpoint: srv.IdentityV3URL(), Username: so.Username, Password: so.Password + "x", ProjectName: so.ProjectName, Logger: logger},
		{IdentityEndpoint: "http://127.0.0.1:1/v3", Username: so.Username, Password: so.Password, Logger: logger},
	} {
		_, err := rackspace.New(ctx, o)
		if err == nil {
			t.Fatal("New with bad credentials or an unreachable endpoint succeeded")
		}
		collect(err)
	}
	secretsAbsent(t, logs.String()+strings.Join(texts, "\n"))
	if !strings.Contains(logs.String(), "REDACTED") {
		t.Fatal("the logged options do not show REDACTED: the test did not exercise redaction")
	}
}

// secretsAbsent fails if any credential of the test cloud, or an extra
// secret, is in text.
func secretsAbsent(t *testing.T, text string, extra ...string) {
	t.Helper()
	secrets := []string{novatest.DefaultAPIKey, novatest.DefaultPassword, novatest.DefaultAppCredentialSecret}
	for _, s := range append(secrets, extra...) {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("secret %.6s… appears in logs, errors or printed options", s)
		}
	}
}

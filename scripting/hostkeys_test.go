package scripting_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

// executorWith returns an Executor for s using the given host key store.
func executorWith(t *testing.T, s *sshdtest.Server, hk *scripting.HostKeys, d *dialCounter) *scripting.Executor {
	t.Helper()
	opts := scripting.ExecutorOptions{Signers: []ssh.Signer{s.ClientSigner}, HostKeys: hk}
	if d != nil {
		opts.Dial = d.dial
	}
	e, err := scripting.NewExecutor(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func otherKey(t *testing.T) ssh.PublicKey {
	kp, err := scripting.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	return kp.Signer.PublicKey()
}

func TestHostKeyPinning(t *testing.T) {
	s := sshdtest.Start(t, &sshdtest.Options{HostKeyTypes: []string{"ed25519", "ecdsa", "rsa"}})
	ed, ec, rsa := s.HostKeys[0], s.HostKeys[1], s.HostKeys[2]
	cases := []struct {
		name string
		pins []ssh.PublicKey
		err  error
	}{
		{"a pinned ed25519 key is accepted although the server prefers others", []ssh.PublicKey{ed}, nil},
		{"a pinned ecdsa key is accepted", []ssh.PublicKey{ec}, nil},
		{"a pinned ssh-rsa key is accepted through rsa-sha2 signatures", []ssh.PublicKey{rsa}, nil},
		{"a changed key is refused", []ssh.PublicKey{otherKey(t)}, scripting.ErrHostKeyMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hk, _ := scripting.NewHostKeys(nil)
			hk.Pin(s.Addr, c.pins...)
			r := executorWith(t, s, hk, nil).Run(context.Background(), target(s), script("true"))
			if !errors.Is(r.Err, c.err) {
				t.Fatalf("Err = %v, want %v", r.Err, c.err)
			}
			if c.err != nil {
				if r.Status() != scripting.StatusError || !strings.Contains(r.Err.Error(), "SHA256:") {
					t.Errorf("status %s, error %q; want an error with fingerprints", r.Status(), r.Err)
				}
			}
		})
	}
}

func TestUnknownHostIsRefusedUnlessTrustOnFirstUse(t *testing.T) {
	s := sshdtest.Start(t, nil)
	var d dialCounter
	strict, _ := scripting.NewHostKeys(nil)
	r := executorWith(t, s, strict, &d).Run(context.Background(), target(s), script("true"))
	if !errors.Is(r.Err, scripting.ErrHostKeyUnknown) {
		t.Fatalf("without TOFU: Err = %v, want ErrHostKeyUnknown", r.Err)
	}
	if d.count() != 0 {
		t.Errorf("an unknown host was dialed %d times; want it refused before connecting", d.count())
	}

	tofu, _ := scripting.NewHostKeys(&scripting.HostKeysOptions{TrustOnFirstUse: true})
	e := executorWith(t, s, tofu, nil)
	mustOK(t, e.Run(context.Background(), target(s), script("true")))
	pinned := tofu.Pinned(s.Addr)
	if len(pinned) != 1 || string(pinned[0].Marshal()) != string(s.HostKeys[0].Marshal()) {
		t.Fatalf("after first use, pinned = %v, want the server's key", pinned)
	}
	// A later server at the same address with another key is refused...
	tofu.Forget(s.Addr)
	tofu.Pin(s.Addr, otherKey(t))
	if r := e.Run(context.Background(), target(s), script("true")); !errors.Is(r.Err, scripting.ErrHostKeyMismatch) {
		t.Fatalf("after the pin changed: Err = %v, want ErrHostKeyMismatch", r.Err)
	}
	// ...until its pin is forgotten (the old server was terminated).
	tofu.Forget(s.Addr)
	mustOK(t, e.Run(context.Background(), target(s), script("true")))
}

func TestKnownHostsFile(t *testing.T) {
	s := sshdtest.Start(t, &sshdtest.Options{HostKeyTypes: []string{"ed25519", "ecdsa"}})
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	// Only the ecdsa key is known: the client must ask for it.
	line := strings.SplitAfter(s.KnownHostsLines(s.Addr), "\n")[1]
	if err := os.WriteFile(good, []byte("# comment\n"+line), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Fields(line)[0] + " " + string(ssh.MarshalAuthorizedKey(otherKey(t)))
	if err := os.WriteFile(bad, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		file string
		err  error
	}{
		{"a host in known_hosts is accepted", good, nil},
		{"a host whose known key differs is refused", bad, scripting.ErrHostKeyMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hk, err := scripting.NewHostKeys(&scripting.HostKeysOptions{KnownHostsFiles: []string{c.file}})
			if err != nil {
				t.Fatal(err)
			}
			r := executorWith(t, s, hk, nil).Run(context.Background(), target(s), script("true"))
			if !errors.Is(r.Err, c.err) {
				t.Errorf("Err = %v, want %v", r.Err, c.err)
			}
		})
	}
}

// keySource is a HostKeySource answering from a map, like a provider
// that reads keys from the console output.
type keySource map[string][]string

func (k keySource) HostKeys(_ context.Context, id string) ([]string, error) {
	keys, ok := k[id]
	if !ok {
		return nil, errors.New("server " + id + " not found")
	}
	return keys, nil
}

func TestHostKeySourcePinsTheProvidersKeys(t *testing.T) {
	s := sshdtest.Start(t, nil)
	src := keySource{"i-1": {s.HostKeyLine()}, "i-booting": nil, "i-evil": {string(ssh.MarshalAuthorizedKey(otherKey(t)))}}
	cases := []struct {
		name   string
		server string
		err    error
	}{
		{"the provider's key is trusted", "i-1", nil},
		{"a server whose keys are not known yet is refused", "i-booting", scripting.ErrHostKeyUnknown},
		{"a key other than the provider's is refused", "i-evil", scripting.ErrHostKeyMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hk, _ := scripting.NewHostKeys(&scripting.HostKeysOptions{Source: src})
			tg := target(s)
			tg.ServerID = c.server
			r := executorWith(t, s, hk, nil).Run(context.Background(), tg, script("true"))
			if !errors.Is(r.Err, c.err) {
				t.Fatalf("Err = %v, want %v", r.Err, c.err)
			}
			if c.err == nil && len(hk.Pinned(s.Addr)) != 1 {
				t.Errorf("the provider's key was not pinned")
			}
		})
	}
}

package farm

import (
	"context"
	"fmt"

	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// ReadFile reads a file on a server (up to the executor's OutputCap bytes)
// through an SFTP session on the connection the farm keeps open to it
// (see ScriptingOptions.Pool), so a read starts no process on the server;
// a server without SFTP is read with cat. Scaling reads /proc/loadavg and
// /proc/meminfo this way. Nothing is recorded in the scripting log.
func (f *Farm) ReadFile(ctx context.Context, serverID, path string) ([]byte, error) {
	e, err := f.scriptEngine()
	if err != nil {
		return nil, err
	}
	s, err := f.liveServer(serverID)
	if err != nil {
		return nil, fmt.Errorf("farm: ReadFile: %w", err)
	}
	t, err := e.target(s, nil, nil, false)
	if err != nil {
		return nil, fmt.Errorf("farm: %w", err)
	}
	e.claim(t.Addr, t.ServerID)
	b, err := e.pool.ReadFile(ctx, t, path)
	if err != nil {
		return nil, fmt.Errorf("farm: server %s: %w", serverID, err)
	}
	return b, nil
}

// sshReader gives scaling.Proc the farm's pooled SSH reads.
type sshReader struct{ f *Farm }

func (r sshReader) Run(ctx context.Context, serverID, command string) ([]byte, error) {
	return r.f.Exec(ctx, serverID, command)
}

func (r sshReader) ReadFile(ctx context.Context, serverID, path string) ([]byte, error) {
	return r.f.ReadFile(ctx, serverID, path)
}

var _ scaling.FileReader = sshReader{}

// SSHPoolStats reports the SSH connections the farm keeps open to its
// servers for Exec, ReadFile and command checks: how many are open, and
// how many handshakes and reuses there have been. Zero without scripting.
func (f *Farm) SSHPoolStats() scripting.PoolStats {
	if f.scripts == nil {
		return scripting.PoolStats{}
	}
	return f.scripts.pool.Stats()
}

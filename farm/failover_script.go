package farm

import (
	"context"

	"github.com/farmhand/farmhand/scripting"
)

// runRoleScript runs one of a role's scripts (promote, demote) on a server
// of the role through [Farm.RunScript], with event and params as its event
// variables. The error is nil only when the script exited with status 0.
func (f *Farm) runRoleScript(ctx context.Context, serverID, script string, event EventType, params map[string]string) error {
	_, err := f.RunScript(ctx, serverID, scripting.ScriptRef{Name: script, Version: scripting.Latest}, string(event), params)
	return err
}

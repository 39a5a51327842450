package roles

import (
	"fmt"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// NFSOptions tune the NFS server preset; zero values mean the defaults
// given with each field.
type NFSOptions struct {
	// Role overrides the preset's RoleSpec field by field; Name defaults
	// to "nfs", Min and Max to 1.
	Role farm.RoleSpec
	// DNSName is the name clients mount, which the farm moves when the
	// server is replaced (default "nfs.farm.internal"; the farm needs
	// Options.DNS).
	DNSName string
	// Export is the exported directory (nfs_export, default /srv/shared),
	// Clients who may mount it (nfs_clients, default *) and ExportOptions
	// the exports(5) options (nfs_options, default
	// rw,sync,no_subtree_check).
	Export, Clients, ExportOptions string
}

// NFS returns the NFS server preset: a role with farm.NFSSpec, its export
// and the DNS name clients mount.
func NFS(o NFSOptions) Preset {
	export := or(o.Export, "/srv/shared")
	def := farm.RoleSpec{
		Name: "nfs", Min: 1, Max: 1,
		NFS: &farm.NFSSpec{Export: export},
		DNS: []farm.DNSName{{Name: or(o.DNSName, "nfs.farm.internal"), Select: "master", TTL: 30 * time.Second}},
		Variables: map[string]string{
			"nfs_install":      "fh_install exportfs nfs-kernel-server",
			"nfs_export":       export,
			"nfs_clients":      "*",
			"nfs_options":      "rw,sync,no_subtree_check",
			"nfs_exports_file": "/etc/exports.d/farmhand.exports",
			"nfs_apply":        "exportfs -ra",
			"nfs_start":        "fh_service nfs-kernel-server restart",
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "nfs-server-init", Blocking: true, Timeout: 10 * time.Minute},
		},
		HealthChecks: []farm.HealthCheckSpec{{Name: "nfs", Kind: "tcp", Port: 2049}},
	}
	role := build(def, map[string]string{
		"nfs_clients": o.Clients,
		"nfs_options": o.ExportOptions,
	}, o.Role)
	return Preset{Role: role, Scripts: []scripting.Script{
		script("nfs-server-init", "installs the kernel NFS server, creates the export, writes its exports(5) line and exports it", `
%nfs_install%
EXPORT=$(fh_abs "%nfs_export%")
FILE=$(fh_abs "%nfs_exports_file%")
mkdir -p "$EXPORT" "$(dirname "$FILE")"
echo "$EXPORT %nfs_clients%(%nfs_options%)" > "$FILE"
%nfs_start%
%nfs_apply%
`),
	}}
}

// NFSClientOptions tune the NFS client preset, which adds to another role
// (Preset.AddTo); zero values mean the defaults given with each field.
type NFSClientOptions struct {
	// Server is the NFS server's DNS name (nfs_server, default
	// "nfs.farm.internal"), Export the exported directory (nfs_export,
	// default /srv/shared) and Mount where it is mounted (nfs_mount,
	// default /mnt/shared).
	Server, Export, Mount string
}

// NFSClient returns the NFS client preset: scripts that mount the share
// when a server starts (HostInit) and remount it when the NFS role's name
// moves (farm.NFSServerChanged). Add it to the client role with
// Preset.AddTo and save its scripts.
func NFSClient(o NFSClientOptions) Preset {
	role := farm.RoleSpec{
		Variables: map[string]string{
			"nfs_client_install": "fh_install mount.nfs nfs-common",
			"nfs_server":         or(o.Server, "nfs.farm.internal"),
			"nfs_export":         or(o.Export, "/srv/shared"),
			"nfs_mount":          or(o.Mount, "/mnt/shared"),
			"nfs_mount_options":  "hard,timeo=50,retrans=3",
			"nfs_mount_cmd":      `mount -t nfs -o "$OPTS" "$SERVER:$EXPORT" "$MNT"`,
			"nfs_umount_cmd":     `umount -f -l "$MNT"`,
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "nfs-client-mount", Blocking: true, Timeout: 10 * time.Minute},
			{Event: farm.NFSServerChanged, Script: "nfs-client-remount", Timeout: 2 * time.Minute},
		},
	}
	return Preset{Role: role, Scripts: []scripting.Script{
		script("nfs-client-mount", "installs the NFS client and mounts the share", `
%nfs_client_install%
SERVER="%nfs_server%"
EXPORT="%nfs_export%"
MNT=$(fh_abs "%nfs_mount%")
OPTS="%nfs_mount_options%"
mkdir -p "$MNT"
%nfs_mount_cmd%
`),
		script("nfs-client-remount", "remounts the share from the NFS role's new server (NFSServerChanged)", `
SERVER="%nfs_name%"
EXPORT="%nfs_export%"
MNT=$(fh_abs "%nfs_mount%")
OPTS="%nfs_mount_options%"
%nfs_umount_cmd% || true
%nfs_mount_cmd%
`),
	}}
}

// exportOptions are the options exports(5) knows (nfs-utils 2.6).
var exportOptions = map[string]bool{
	"secure": true, "insecure": true, "rw": true, "ro": true, "async": true, "sync": true,
	"no_wdelay": true, "wdelay": true, "nohide": true, "hide": true, "crossmnt": true,
	"no_subtree_check": true, "subtree_check": true, "insecure_locks": true, "no_auth_nlm": true,
	"secure_locks": true, "auth_nlm": true, "no_acl": true, "acl": true, "root_squash": true,
	"no_root_squash": true, "all_squash": true, "no_all_squash": true, "mp": true,
	"pnfs": true, "no_pnfs": true, "security_label": true, "no_security_label": true,
}

// exportValueOptions take a value (name=value).
var exportValueOptions = map[string]bool{
	"mountpoint": true, "mp": true, "fsid": true, "refer": true, "replicas": true,
	"sec": true, "anonuid": true, "anongid": true, "xprtsec": true,
}

// CheckExports checks lines in exports(5) syntax: an absolute path, then
// clients each with options in parentheses, known option names only and
// no space between a client and its options (the classic mistake that
// exports to the world). The kernel NFS server cannot run in tests, so
// this stands in for exportfs.
func CheckExports(text string) error {
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if !strings.HasPrefix(fields[0], "/") {
			return fmt.Errorf("line %d: export %q is not an absolute path", n+1, fields[0])
		}
		if len(fields) == 1 {
			return fmt.Errorf("line %d: export %q names no client", n+1, fields[0])
		}
		for _, c := range fields[1:] {
			if strings.HasPrefix(c, "(") {
				return fmt.Errorf("line %d: options %q have no client: a space before '(' exports to the world", n+1, c)
			}
			host, opts, ok := strings.Cut(c, "(")
			if host == "" {
				return fmt.Errorf("line %d: empty client in %q", n+1, c)
			}
			if !ok {
				continue
			}
			if !strings.HasSuffix(opts, ")") {
				return fmt.Errorf("line %d: client %q: options not closed by ')'", n+1, c)
			}
			for _, o := range strings.Split(strings.TrimSuffix(opts, ")"), ",") {
				name, _, hasValue := strings.Cut(o, "=")
				if hasValue && !exportValueOptions[name] || !hasValue && !exportOptions[name] {
					return fmt.Errorf("line %d: client %q: unknown option %q", n+1, host, o)
				}
			}
		}
	}
	return nil
}

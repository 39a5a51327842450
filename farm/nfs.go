package farm

// NFSSpec makes a role an NFS server whose clients mount it by name.
//
// The role's server in service is its master ([Server.Master]); the role's
// DNS names of select "master" (one at least) point at it. When the server
// is lost and replaced, or another server of the role takes over, the farm
// moves the names to the new server with a compare-and-swap on their old
// value, checks the move at the authoritative servers, and fires
// [NFSServerChanged]. Scripts bound to NFSServerChanged on the client roles
// remount the share there:
//
//	umount -f -l /mnt/shared; mount -t nfs %nfs_name%:%nfs_export% /mnt/shared
type NFSSpec struct {
	// Export is the exported directory, such as "/srv/shared"; it is passed
	// to the remount scripts as the parameter nfs_export.
	Export string `yaml:"export,omitempty"`
}

// NFSServerChanged fires when an NFS role's name has moved to a new server
// (see [NFSSpec]). It is a custom event: scripts bind to it by name. Role is
// the NFS role, Server the new NFS server. Params: "nfs_name" (the first DNS
// name of select "master", without the trailing dot), "nfs_export",
// "old_master_id", "old_master_ip", "new_master_id", "new_master_ip" (and
// the "_external_ip" forms), and "dns_verified" ("true" once every
// authoritative server serves the new address, "false" when the farm has
// no servers to check or the check failed).
const NFSServerChanged EventType = "NFSServerChanged"

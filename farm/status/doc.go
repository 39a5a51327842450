// Package status serves farms' status pages: an http.Handler a program
// mounts wherever it likes.
//
//	h := status.NewHandler(&status.Options{Title: "shop"})
//	stop, err := h.Watch(f)
//	mux.Handle("/status/", http.StripPrefix("/status", h))
//
// # Pages
//
// The index ("/") lists every watched farm: state, readiness, servers
// running against desired, unhealthy servers, failovers. A farm's page
// ("/farms/{farm}") shows its roles (desired, bounds, servers by state),
// its servers (state, zone, private and public addresses, health with each
// check, master and protected marks, the reason a server left), each
// role's scaling history with a chart of the desired count over time, the
// failovers with how long each took, the newest backups of each role with
// a backup section (farm.Farm.Backups), the newest failed runs of the
// scripting log, and the recent events (kept from the moment Watch was
// called, Options.Events of them). "/farms/{farm}/roles/{role}/capacity.svg"
// is a role's chart alone.
//
// The pages are HTML with inline CSS and inline SVG drawn on the server:
// no script, nothing fetched from another site, so they work on a
// controller with no Internet access. Links are relative, so the handler
// works under any prefix.
//
// # JSON
//
// Every page has a JSON view with the same content: add ?format=json or
// send Accept: application/json. The index is an [Index], a farm's page a
// [FarmPage].
//
// # The chart
//
// A role's chart is a step line of its desired count, from its oldest
// listed server's launch (or its first scaling record) to the farm's
// clock's now, one vertical step per [farm.ScalingRecord]. Each step is an
// SVG circle with class "step" and data-time (RFC 3339) and data-count
// attributes, so that tests and scrapers can read the chart back.
//
// Drills (farm.Farm.Drills) are listed newest first with what each killed,
// what replaced it and how long detection and healing took.
package status

package status

import (
	"html/template"
	"time"
)

// The pages are plain HTML with inline CSS and inline SVG: no script, no
// external stylesheet, font or CDN.

const style = `<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e3e6ec;padding-bottom:4px}
table{border-collapse:collapse;margin:4px 0 8px} th,td{padding:4px 10px;border-bottom:1px solid #eceef3;text-align:left;vertical-align:top}
th{background:#f3f5f9;font-weight:600} td.num{text-align:right}
.ok{color:#0a7a32} .bad{color:#b42318;font-weight:600} .muted{color:#6b7280}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;background:#eef2ff;color:#3730a3;font-size:12px}
.state-Running{color:#0a7a32} .state-Failed,.state-Terminated{color:#b42318} .state-Pending,.state-Initializing,.state-PendingTerminate{color:#a15c07}
pre{margin:0;white-space:pre-wrap;font-size:12px}
</style>`

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
}

var indexTemplate = template.Must(template.New("index").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>` + style + `</head>
<body>
<h1>{{.Title}}</h1>
<p class="muted"><a href="?format=json">JSON</a></p>
{{if .Farms}}
<table id="farms">
<tr><th>farm</th><th>state</th><th>ready</th><th>running / desired</th><th>unhealthy</th><th>failovers</th><th>as of</th></tr>
{{range .Farms}}<tr class="farm" data-farm="{{.Name}}">
<td><a href="farms/{{.Name}}">{{.Name}}</a></td><td>{{.State}}</td>
<td>{{if .Ready}}<span class="ok">ready</span>{{else}}<span class="bad">not ready</span>{{end}}</td>
<td class="num">{{.Running}} / {{.Desired}}</td><td class="num">{{.Unhealthy}}</td><td class="num">{{.Failovers}}</td><td>{{when .Time}}</td>
</tr>{{end}}
</table>
{{else}}<p>No farm is watched.</p>{{end}}
</body></html>
`))

var farmTemplate = template.Must(template.New("farm").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>farm {{.Name}}</title>` + style + `</head>
<body>
<p class="muted"><a href="../">all farms</a> · <a href="?format=json">JSON</a></p>
<h1>farm {{.Name}} <span class="badge">{{.State}}</span>
{{if .Ready}}<span class="ok">ready</span>{{else}}<span class="bad">not ready</span>{{end}}</h1>
<p class="muted">{{.Running}} of {{.Desired}} servers running · {{.Unhealthy}} unhealthy · as of {{when .Time}}</p>

<h2>Roles</h2>
<table id="roles">
<tr><th>role</th><th>desired</th><th>min</th><th>max</th><th>servers by state</th><th>launching</th><th></th></tr>
{{range .Roles}}<tr class="role" data-role="{{.Name}}">
<td>{{.Name}}</td><td class="num">{{.Desired}}</td><td class="num">{{.Min}}</td><td class="num">{{.Max}}</td>
<td>{{range $s, $n := .Counts}}<span class="state-{{$s}}">{{$s}} {{$n}}</span> {{end}}</td><td class="num">{{.Launching}}</td>
<td>{{if .Ready}}<span class="ok">ready</span>{{else}}<span class="bad">not ready</span>{{end}} {{.Note}}</td>
</tr>{{end}}
</table>

<h2>Servers</h2>
<table id="servers">
<tr><th>server</th><th>role</th><th>#</th><th>state</th><th>zone</th><th>private IP</th><th>public IP</th><th>health</th><th>up since</th><th>notes</th></tr>
{{range .Servers}}<tr class="server" data-server="{{.ID}}" data-state="{{.State}}">
<td>{{.ID}}</td><td>{{.Role}}</td><td class="num">{{.Index}}</td><td class="state-{{.State}}">{{.State}}</td><td>{{.Zone}}</td>
<td>{{.PrivateIP}}</td><td>{{.PublicIP}}</td>
<td class="{{if eq .Health "unhealthy"}}bad{{else if eq .Health "healthy"}}ok{{end}}">{{.Health}}{{range .Checks}}<br><span class="muted">{{.}}</span>{{end}}</td>
<td>{{when .UpAt}}</td>
<td>{{if .Master}}<span class="badge">master</span> {{end}}{{if .Protected}}<span class="badge">protected</span> {{end}}<span class="muted">{{.Reason}}</span></td>
</tr>{{end}}
</table>

<h2>Scaling</h2>
{{range .Scaling}}<div class="scaling" data-role="{{.Role}}">
<h3>{{.Role}}</h3>
{{if .Records}}{{.Chart}}
<table class="scaling-history">
<tr><th>time</th><th>from</th><th>to</th><th>bounds</th><th>origin</th><th>reason</th></tr>
{{range .Records}}<tr><td>{{when .Time}}</td><td class="num">{{.From}}</td><td class="num">{{.To}}</td><td>{{.Min}}–{{.Max}}</td><td>{{.Origin}}</td><td>{{.Reason}}</td></tr>{{end}}
</table>
{{else}}<p class="muted">No scaling action yet.</p>{{end}}
</div>{{end}}

<h2>Failovers</h2>
{{if .Failovers}}<table id="failovers">
<tr><th>role</th><th>detected</th><th>old master</th><th>new master</th><th>took</th><th>fenced</th><th>reason</th></tr>
{{range .Failovers}}<tr class="failover"><td>{{.Role}}</td><td>{{when .Detected}}</td><td>{{.OldMaster}}</td><td>{{.NewMaster}}</td><td>{{.Duration}}</td><td>{{.Fenced}}</td><td>{{.Reason}}</td></tr>{{end}}
</table>{{else}}<p class="muted">No failover yet.</p>{{end}}

<h2>Backups</h2>
{{if not .BackupRoles}}<p class="muted">No role has a backup section.</p>
{{else}}{{range .BackupErrors}}<p class="bad">{{.}}</p>{{end}}
{{if .Backups}}<table id="backups">
<tr><th>role</th><th>#</th><th>status</th><th>method</th><th>server</th><th>started</th><th>finished</th><th>backup</th></tr>
{{range .Backups}}<tr class="backup" data-status="{{.Status}}"><td>{{.Role}}</td><td class="num">{{.Seq}}</td>
<td class="{{if eq .Status "failed"}}bad{{else if eq .Status "complete"}}ok{{end}}">{{.Status}}{{if .Stuck}} (stuck){{end}}</td>
<td>{{.Method}}</td><td>{{.Server}}</td><td>{{when .Started}}</td><td>{{when .Finished}}</td><td>{{.ID}}{{.Error}}</td></tr>{{end}}
</table>{{else}}<p class="muted">No backup yet.</p>{{end}}{{end}}

<h2>Drills</h2>
{{if .DrillsError}}<p class="bad">{{.DrillsError}}</p>{{end}}
{{if .Drills}}<table id="drills">
<tr><th>#</th><th>kind</th><th>started</th><th>killed</th><th>replaced by</th><th>detected</th><th>healed</th><th>failed scripts / error</th></tr>
{{range .Drills}}<tr class="drill"><td class="num">{{.Seq}}</td><td>{{.Kind}}{{with .Role}} {{.}}{{end}}{{with .Zone}} {{.}}{{end}}</td><td>{{when .Started}}</td>
<td>{{range .Killed}}{{.}}<br>{{end}}</td><td>{{range .Replacements}}{{.}}<br>{{end}}</td><td>{{.Detect}}</td>
<td class="{{if .Error}}bad{{else}}ok{{end}}">{{.Heal}}</td><td>{{range .FailedScripts}}{{.}}<br>{{end}}{{.Error}}</td></tr>{{end}}
</table>{{else}}<p class="muted">No drill yet.</p>{{end}}

<h2>Script failures</h2>
{{if .ScriptingOff}}<p class="muted">Scripting is off for this farm.</p>
{{else if .ScriptFailures}}<table id="script-failures">
<tr><th>time</th><th>role</th><th>server</th><th>event</th><th>script</th><th>exit</th><th>error / stderr</th></tr>
{{range .ScriptFailures}}<tr class="script-failure"><td>{{when .Time}}</td><td>{{.Role}}</td><td>{{.Server}}</td><td>{{.Event}}</td><td>{{.Script}} v{{.Version}}</td>
<td class="num">{{if .TimedOut}}timed out{{else}}{{.ExitCode}}{{end}}</td><td>{{.Error}}<pre>{{.Stderr}}</pre></td></tr>{{end}}
</table>{{else}}<p class="muted">No failed script run.</p>{{end}}

<h2>Recent events</h2>
{{if .Events}}<table id="events">
<tr><th>#</th><th>time</th><th>event</th><th>role</th><th>server</th><th>reason</th></tr>
{{range .Events}}<tr class="event" data-type="{{.Type}}"><td class="num">{{.Seq}}</td><td>{{when .Time}}</td><td>{{.Type}}</td><td>{{.Role}}</td><td>{{.Server}}</td><td>{{.Reason}}</td></tr>{{end}}
</table>{{else}}<p class="muted">No event since the page started watching.</p>{{end}}
</body></html>
`))

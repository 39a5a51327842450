package status

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/farmhand/farmhand/farm"
)

// Defaults of [Options].
const (
	DefaultEvents         = 200
	DefaultScriptFailures = 20
)

// Options configure a [Handler]. nil means the defaults.
type Options struct {
	// Title heads the index page; empty means "farmhand".
	Title string
	// Events is how many recent events the handler keeps per farm.
	Events int
	// ScriptFailures is how many failed script runs a farm page lists.
	ScriptFailures int
}

// Handler serves the status pages of the farms it watches. Mount it
// anywhere (links are relative), such as
//
//	mux.Handle("/status/", http.StripPrefix("/status", h))
//
// It is safe for concurrent use.
type Handler struct {
	title       string
	keep        int
	maxFailures int
	mux         *http.ServeMux

	mu    sync.Mutex
	farms map[string]*watched
	order []string
}

type watched struct {
	f      *farm.Farm
	cancel func()
	mu     sync.Mutex
	events []farm.Event // a ring, oldest first once full
	next   int
}

// NewHandler returns a handler watching no farm yet. opts may be nil.
func NewHandler(opts *Options) *Handler {
	if opts == nil {
		opts = &Options{}
	}
	h := &Handler{
		title:       opts.Title,
		keep:        opts.Events,
		maxFailures: opts.ScriptFailures,
		farms:       map[string]*watched{},
	}
	if h.title == "" {
		h.title = "farmhand"
	}
	if h.keep <= 0 {
		h.keep = DefaultEvents
	}
	if h.maxFailures <= 0 {
		h.maxFailures = DefaultScriptFailures
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.serveIndex)
	h.mux.HandleFunc("GET /farms/{farm}", h.serveFarm)
	h.mux.HandleFunc("GET /farms/{farm}/roles/{role}/capacity.svg", h.serveChart)
	return h
}

// Watch adds f to the pages and starts keeping its events (those fired
// from now on). stop removes it. A second farm of the same name is an
// error.
func (h *Handler) Watch(f *farm.Farm) (stop func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	name := f.Name()
	if _, ok := h.farms[name]; ok {
		return nil, fmt.Errorf("status: a farm named %q is already watched", name)
	}
	w := &watched{f: f}
	w.cancel = f.Subscribe(func(ev farm.Event) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.events) < h.keep {
			w.events = append(w.events, ev)
			return
		}
		w.events[w.next] = ev
		w.next = (w.next + 1) % h.keep
	})
	h.farms[name] = w
	h.order = append(h.order, name)
	return func() {
		h.mu.Lock()
		if h.farms[name] == w {
			delete(h.farms, name)
			h.order = slices.DeleteFunc(h.order, func(n string) bool { return n == name })
		}
		h.mu.Unlock()
		w.cancel()
	}, nil
}

// recent returns the kept events, newest first.
func (w *watched) recent() []farm.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]farm.Event, 0, len(w.events))
	for i := range len(w.events) {
		out = append(out, w.events[(w.next+len(w.events)-1-i)%len(w.events)])
	}
	return out
}

// ServeHTTP serves the pages:
//
//	/                                      every farm in brief
//	/farms/{farm}                          one farm
//	/farms/{farm}/roles/{role}/capacity.svg  a role's capacity chart
//
// Add ?format=json (or Accept: application/json) for the JSON view of a
// page ([Index], [FarmPage]).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) farm(name string) (*watched, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.farms[name]
	return w, ok
}

func wantsJSON(r *http.Request) bool {
	return r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	ws := make([]*watched, 0, len(h.order))
	for _, n := range h.order {
		ws = append(ws, h.farms[n])
	}
	h.mu.Unlock()
	idx := Index{Title: h.title, Farms: []FarmBrief{}}
	for _, wf := range ws {
		idx.Farms = append(idx.Farms, brief(wf.f, wf.f.Status()))
	}
	if wantsJSON(r) {
		writeJSON(w, idx)
		return
	}
	render(w, indexTemplate, idx)
}

func (h *Handler) serveFarm(w http.ResponseWriter, r *http.Request) {
	wf, ok := h.farm(r.PathValue("farm"))
	if !ok {
		http.Error(w, fmt.Sprintf("no farm named %q", r.PathValue("farm")), http.StatusNotFound)
		return
	}
	p := farmPage(r.Context(), wf.f, wf.recent(), h.maxFailures)
	if wantsJSON(r) {
		writeJSON(w, p)
		return
	}
	for i := range p.Scaling {
		rs := &p.Scaling[i]
		rs.Chart = template.HTML(capacityChart(rs.Role, rs.Records, rs.Since, p.Time)) // built with escaped text only
	}
	render(w, farmTemplate, p)
}

func (h *Handler) serveChart(w http.ResponseWriter, r *http.Request) {
	wf, ok := h.farm(r.PathValue("farm"))
	if !ok {
		http.Error(w, fmt.Sprintf("no farm named %q", r.PathValue("farm")), http.StatusNotFound)
		return
	}
	role := r.PathValue("role")
	if _, ok := wf.f.Spec().Role(role); !ok {
		http.Error(w, fmt.Sprintf("farm %q has no role %q", wf.f.Name(), role), http.StatusNotFound)
		return
	}
	var steps []ScalingStep
	for _, s := range wf.f.ScalingHistory(role) {
		steps = append(steps, ScalingStep{Time: s.Time, From: s.From, To: s.To, Min: s.Min, Max: s.Max, Origin: string(s.Origin), Reason: s.Reason})
	}
	st := wf.f.Status()
	rst, _ := st.Role(role)
	svg := capacityChart(role, steps, firstLaunch(rst.Servers), st.Time)
	if svg == "" {
		http.Error(w, fmt.Sprintf("role %q has no scaling history yet", role), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	fmt.Fprint(w, svg)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func render(w http.ResponseWriter, t *template.Template, v any) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, b.String())
}

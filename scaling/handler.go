package scaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// APITarget is what the HTTP API reads and changes. Package farm satisfies
// it.
//
// Every method must return a [*RequestError] for a request it refuses (for
// instance [UnknownRole], or [NotEnabled] for a role that does not take
// API calls), and must change nothing then.
type APITarget interface {
	// Capacity returns a role's desired and running counts and its bounds.
	Capacity(ctx context.Context, role string) (Capacity, error)
	SetDesired(ctx context.Context, role string, n int) error
	FireEvent(ctx context.Context, name string, params map[string]string) error
}

// Capacity is a role's size, as GET …/roles/{role} answers it.
type Capacity struct {
	// Role names the role.
	Role string `json:"role"`
	// Desired is the count the controller works towards.
	Desired int `json:"desired"`
	// Running is the servers in service now.
	Running int `json:"running"`
	// Min and Max are the bounds in force (a schedule window's, if one is
	// open); SetDesired refuses a count outside them.
	Min int `json:"min"`
	Max int `json:"max"`
}

// Errors a [*RequestError] may wrap to choose the handler's answer.
var (
	// ErrNotFound: the role or event does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrNotEnabled: the role exists but does not take API calls (403).
	ErrNotEnabled = errors.New("not enabled")
)

// RequestError is a request the API refuses: the handler answers it with
// 404 when it wraps [ErrNotFound], 403 when it wraps [ErrNotEnabled], else
// 400, and its text.
type RequestError struct {
	// Field names the input at fault: "role", "desired", "event",
	// "params.<key>", "body".
	Field string
	// Value is the offending value, if short and worth showing.
	Value string
	// Message says what is wrong.
	Message string
	// Err is [ErrNotFound], [ErrNotEnabled] or nil (bad input).
	Err error
}

// Error names the field, the value at fault and what is wrong with it.
func (e *RequestError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Message)
	}
	return e.Field + ": " + e.Message
}

// Unwrap returns Err.
func (e *RequestError) Unwrap() error { return e.Err }

// UnknownRole is the error an APITarget returns for a role it does not
// have: 404.
func UnknownRole(role string) error {
	return &RequestError{Field: "role", Value: role, Message: "no such role", Err: ErrNotFound}
}

// NotEnabled is the error an APITarget returns for a role that exists but
// does not take API calls: 403. how says how to enable it.
func NotEnabled(role, how string) error {
	return &RequestError{Field: "role", Value: role, Message: "the scaling API is not enabled for this role; " + how, Err: ErrNotEnabled}
}

// UnknownEvent is the error an APITarget returns for an event name it does
// not accept.
func UnknownEvent(name string) error {
	return &RequestError{Field: "event", Value: name, Message: "no such event"}
}

// Limits of the HTTP API.
const (
	// DefaultMaxBodyBytes is HandlerOptions.MaxBodyBytes when it is zero.
	DefaultMaxBodyBytes = 64 << 10
	// MaxDesired is the largest count the API accepts.
	MaxDesired = 100000
	// MaxEventParams is the most parameters an event may carry.
	MaxEventParams = 64
)

// HandlerOptions tune [NewHandler].
type HandlerOptions struct {
	// MaxBodyBytes bounds a request body; 0 means [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Logger receives one line per call; nil discards. Secrets are never
	// logged.
	Logger *slog.Logger
}

// Handler serves the scaling API. Paths are matched by their end, so it
// works mounted under any prefix, with or without http.StripPrefix:
//
//	GET  …/roles/{role}           → {"role": "app", "desired": 4, "running": 3, "min": 2, "max": 8}
//	GET  …/roles/{role}/desired   (the same)
//	POST …/roles/{role}/desired   {"desired": 5}
//	POST …/events/{name}          {"param": "value", …}
//
// Every call is authenticated before anything is read or changed: an
// unauthenticated call gets 401, an unknown role or event 404, a role that
// does not take API calls 403, bad input 400, each with {"error": "…"};
// another method 405, a body over the limit 413.
type Handler struct {
	target APITarget
	auth   Authenticator
	max    int64
	log    *slog.Logger
}

// NewHandler returns the API handler. A nil auth refuses every call.
func NewHandler(target APITarget, auth Authenticator, opts *HandlerOptions) *Handler {
	var o HandlerOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{target: target, auth: auth, max: o.MaxBodyBytes, log: o.Logger}
}

var _ http.Handler = (*Handler)(nil)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
var paramPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ServeHTTP authenticates the request, then serves the API's routes (see
// the package documentation); errors are JSON bodies with their status.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	n := len(segs)
	var op, name string
	allow := []string{http.MethodPost}
	switch {
	case n >= 3 && segs[n-3] == "roles" && segs[n-1] == "desired":
		op, name = "desired", segs[n-2]
		allow = []string{http.MethodGet, http.MethodPost}
	case n >= 2 && segs[n-2] == "roles":
		op, name = "capacity", segs[n-1]
		allow = []string{http.MethodGet}
	case n >= 2 && segs[n-2] == "events":
		op, name = "event", segs[n-1]
	default:
		h.fail(w, r, http.StatusNotFound, "no such endpoint", nil)
		return
	}
	if r.Method == http.MethodHead || !slices.Contains(allow, r.Method) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.fail(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+strings.Join(allow, " or "), nil)
		return
	}
	if r.Method == http.MethodGet {
		op = "capacity"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", h.max), nil)
			return
		}
		h.fail(w, r, http.StatusBadRequest, "reading body failed", err)
		return
	}
	if h.auth == nil {
		h.unauthorized(w, r, errors.New("no authenticator configured"))
		return
	}
	if err := h.auth.Authenticate(r, body); err != nil {
		h.unauthorized(w, r, err)
		return
	}
	switch op {
	case "capacity":
		h.capacity(w, r, name)
	case "desired":
		h.setDesired(w, r, name, body)
	default:
		h.fireEvent(w, r, name, body)
	}
}

func (h *Handler) capacity(w http.ResponseWriter, r *http.Request, role string) {
	if !namePattern.MatchString(role) {
		h.badRequest(w, r, &RequestError{Field: "role", Value: truncate(role, 80), Message: "not a role name (letters, digits, '.', '_', '-'; at most 64)"})
		return
	}
	c, err := h.target.Capacity(r.Context(), role)
	if err != nil {
		h.targetFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *Handler) setDesired(w http.ResponseWriter, r *http.Request, role string, body []byte) {
	if !namePattern.MatchString(role) {
		h.badRequest(w, r, &RequestError{Field: "role", Value: truncate(role, 80), Message: "not a role name (letters, digits, '.', '_', '-'; at most 64)"})
		return
	}
	n, rerr := parseDesired(body)
	if rerr != nil {
		h.badRequest(w, r, rerr)
		return
	}
	if err := h.target.SetDesired(r.Context(), role, n); err != nil {
		h.targetFailed(w, r, err)
		return
	}
	h.log.Info("scaling api: desired set", "role", role, "desired", n, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"role": role, "desired": n})
}

func (h *Handler) fireEvent(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	if !namePattern.MatchString(name) {
		h.badRequest(w, r, &RequestError{Field: "event", Value: truncate(name, 80), Message: "not an event name (letters, digits, '.', '_', '-'; at most 64)"})
		return
	}
	params, rerr := parseParams(body)
	if rerr != nil {
		h.badRequest(w, r, rerr)
		return
	}
	if err := h.target.FireEvent(r.Context(), name, params); err != nil {
		h.targetFailed(w, r, err)
		return
	}
	h.log.Info("scaling api: event fired", "event", name, "params", len(params), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"event": name, "params": params})
}

// parseDesired reads {"desired": N} strictly: N must be a JSON integer in
// [0, MaxDesired], and nothing else may be in the body.
func parseDesired(body []byte) (int, *RequestError) {
	var req map[string]json.RawMessage
	if err := decodeStrict(body, &req); err != nil {
		return 0, &RequestError{Field: "body", Message: "want a JSON object like {\"desired\": 5}: " + err.Error()}
	}
	for k := range req {
		if k != "desired" {
			return 0, &RequestError{Field: "body", Value: truncate(k, 40), Message: "unknown field"}
		}
	}
	raw, ok := req["desired"]
	if !ok {
		return 0, &RequestError{Field: "desired", Message: "missing"}
	}
	text := string(raw)
	if len(text) == 0 || (text[0] != '-' && (text[0] < '0' || text[0] > '9')) {
		return 0, &RequestError{Field: "desired", Value: truncate(text, 40), Message: "not a number"}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, &RequestError{Field: "desired", Value: truncate(text, 40), Message: "out of range"}
	case err != nil:
		return 0, &RequestError{Field: "desired", Value: truncate(text, 40), Message: "not an integer"}
	case n < 0:
		return 0, &RequestError{Field: "desired", Value: text, Message: "is negative"}
	case n > MaxDesired:
		return 0, &RequestError{Field: "desired", Value: text, Message: fmt.Sprintf("is over %d", MaxDesired)}
	}
	return int(n), nil
}

// parseParams reads an event's parameters: an empty body, or a JSON object
// of string values with variable-like keys.
func parseParams(body []byte) (map[string]string, *RequestError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]string{}, nil
	}
	var raw map[string]json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return nil, &RequestError{Field: "body", Message: "want a JSON object of string parameters: " + err.Error()}
	}
	if len(raw) > MaxEventParams {
		return nil, &RequestError{Field: "params", Message: fmt.Sprintf("%d parameters, at most %d", len(raw), MaxEventParams)}
	}
	params := make(map[string]string, len(raw))
	for k, v := range raw {
		if !paramPattern.MatchString(k) {
			return nil, &RequestError{Field: "params", Value: truncate(k, 40), Message: "not a parameter name (letters, digits, '_'; at most 64)"}
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &RequestError{Field: "params." + k, Message: "want a string, got " + truncate(string(v), 40)}
		}
		params[k] = s
	}
	return params, nil
}

// decodeStrict decodes one JSON value and refuses trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (h *Handler) targetFailed(w http.ResponseWriter, r *http.Request, err error) {
	var re *RequestError
	switch {
	case errors.As(err, &re) && errors.Is(re, ErrNotFound):
		h.fail(w, r, http.StatusNotFound, re.Error(), nil)
	case errors.As(err, &re) && errors.Is(re, ErrNotEnabled):
		h.fail(w, r, http.StatusForbidden, re.Error(), nil)
	case errors.As(err, &re):
		h.badRequest(w, r, re)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		h.fail(w, r, http.StatusServiceUnavailable, "request cancelled", err)
	default:
		h.fail(w, r, http.StatusInternalServerError, "internal error", err)
	}
}

func (h *Handler) badRequest(w http.ResponseWriter, r *http.Request, re *RequestError) {
	h.fail(w, r, http.StatusBadRequest, re.Error(), nil)
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, why error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="farmhand"`)
	h.log.Warn("scaling api: unauthenticated call refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "why", why.Error())
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
}

// fail answers with status and a JSON error; err, if any, is logged only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	attrs := []any{"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", status, "msg", msg}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	h.log.Warn("scaling api: call refused", attrs...)
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package scaling

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// Authenticator decides whether an API call may change anything.
//
// Authenticate must return nil only for a request it trusts. body is the
// request body, already read. It must compare secrets in constant time, and
// its error must not contain a secret: the handler logs it.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) error
}

// BearerToken returns an [Authenticator] that accepts requests carrying
// "Authorization: Bearer <token>". An empty token accepts nothing.
func BearerToken(token string) Authenticator {
	return bearer{sum: sha256.Sum256([]byte(token)), empty: token == ""}
}

type bearer struct {
	sum   [32]byte // comparing fixed-size digests hides the token's length
	empty bool
}

func (b bearer) String() string { return "bearer token" }

func (b bearer) Authenticate(r *http.Request, _ []byte) error {
	if b.empty {
		return errors.New("no token configured")
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errors.New("no bearer token")
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(got[:], b.sum[:]) != 1 {
		return errors.New("wrong bearer token")
	}
	return nil
}

// Headers of an HMAC-signed request.
const (
	// HeaderTimestamp carries the signing time in Unix seconds.
	HeaderTimestamp = "X-Farmhand-Timestamp"
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256.
	HeaderSignature = "X-Farmhand-Signature"
)

// DefaultMaxSkew is HMACOptions.MaxSkew when it is zero.
const DefaultMaxSkew = 5 * time.Minute

// HMACOptions tune [NewHMAC].
type HMACOptions struct {
	// MaxSkew is how far the timestamp may be from the server's time either
	// way; 0 means [DefaultMaxSkew].
	MaxSkew time.Duration
	// Clock reads the server's time; nil means the real clock.
	Clock clock.Clock
}

// HMAC is an [Authenticator] for requests signed with a shared secret by
// [Sign]: the signature covers the timestamp, the method, the request URI
// and the body, so a signed call cannot be moved to another role or event.
// A timestamp further than MaxSkew from now is refused, and so is a
// signature seen before within that time, which stops replays.
type HMAC struct {
	secret  []byte
	maxSkew time.Duration
	clock   clock.Clock

	mu   sync.Mutex
	seen map[string]time.Time // signature → its timestamp
}

// NewHMAC returns an HMAC authenticator for secret. An empty secret accepts
// nothing.
func NewHMAC(secret []byte, opts *HMACOptions) *HMAC {
	var o HMACOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	return &HMAC{secret: append([]byte(nil), secret...), maxSkew: o.MaxSkew, clock: clock.Or(o.Clock), seen: make(map[string]time.Time)}
}

var _ Authenticator = (*HMAC)(nil)

// String names the scheme, never the secret.
func (h *HMAC) String() string { return "hmac-sha256" }

// Sign returns the value of [HeaderSignature] for a request: "sha256=" and
// the hex HMAC-SHA256 under secret of the timestamp (Unix seconds), method,
// request URI (path and query, as sent) and body, separated by newlines.
func Sign(secret []byte, at time.Time, method, requestURI string, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, strconv.FormatInt(at.Unix(), 10), method, requestURI, body))
}

// SignRequest sets the timestamp and signature headers of r for body.
func SignRequest(r *http.Request, secret []byte, at time.Time, body []byte) {
	r.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	r.Header.Set(HeaderSignature, Sign(secret, at, r.Method, r.URL.RequestURI(), body))
}

func mac(secret []byte, ts, method, uri string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n", ts, method, uri)
	m.Write(body)
	return m.Sum(nil)
}

// Authenticate checks the timestamp, the signature and that the signature
// is new.
func (h *HMAC) Authenticate(r *http.Request, body []byte) error {
	if len(h.secret) == 0 {
		return errors.New("no HMAC secret configured")
	}
	tsText := r.Header.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp header %q is not Unix seconds", truncate(tsText, 32))
	}
	now := h.clock.Now()
	at := time.Unix(ts, 0)
	if skew := now.Sub(at); skew > h.maxSkew || skew < -h.maxSkew {
		return fmt.Errorf("timestamp %d is %s from the server's time (limit %s)", ts, skew.Round(time.Second), h.maxSkew)
	}
	hexSig, ok := strings.CutPrefix(r.Header.Get(HeaderSignature), "sha256=")
	if !ok {
		return errors.New("no sha256= signature")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return errors.New("signature is not hex")
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	if !hmac.Equal(got, mac(h.secret, tsText, r.Method, uri, body)) {
		return errors.New("signature mismatch")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sig, t := range h.seen {
		if now.Sub(t) > h.maxSkew {
			delete(h.seen, sig)
		}
	}
	key := string(got) // the bytes, so that a change of hex case is no new signature
	if _, dup := h.seen[key]; dup {
		return errors.New("signature already used (replay)")
	}
	h.seen[key] = at
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

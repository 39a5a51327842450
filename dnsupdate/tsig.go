package dnsupdate

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"regexp"
	"strings"

	"github.com/miekg/dns"
)

// TSIGKey is a shared-secret key for signing updates (RFC 8945), as made by
// "tsig-keygen -a hmac-sha256 NAME".
//
// Its String, GoString and LogValue methods leave the secret out, so a key
// printed with %v or %#v or logged with slog shows only its name and
// algorithm.
type TSIGKey struct {
	// Name is the key's name as the server knows it ("farm-key").
	Name string
	// Algorithm is "hmac-sha256" (the default when empty), "hmac-sha512",
	// "hmac-sha384", "hmac-sha224", "hmac-sha1" or "hmac-md5"; the forms
	// with a trailing dot and "hmac-md5.sig-alg.reg.int." are accepted.
	Algorithm string
	// Secret is the base64 secret.
	Secret string
}

// String returns `tsig key "NAME" (ALGORITHM)` without the secret.
func (k TSIGKey) String() string {
	alg := k.Algorithm
	if alg == "" {
		alg = "hmac-sha256"
	}
	return fmt.Sprintf("tsig key %q (%s)", k.Name, alg)
}

// GoString is String, so %#v does not print the secret either.
func (k TSIGKey) GoString() string { return k.String() }

// LogValue logs the name and algorithm only.
func (k TSIGKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.Name), slog.String("algorithm", k.Algorithm))
}

var bindKeyRE = regexp.MustCompile(`(?s)key\s+"?([^"\s{]+)"?\s*\{(.*?)\}\s*;`)
var bindKeyField = regexp.MustCompile(`(?s)(algorithm|secret)\s+"?([^";\s]+)"?\s*;`)

// ParseBINDKey reads a key statement as written by tsig-keygen or found in
// named.conf:
//
//	key "farm-key" {
//		algorithm hmac-sha256;
//		secret "base64...";
//	};
//
// Errors never quote the secret.
func ParseBINDKey(text string) (TSIGKey, error) {
	m := bindKeyRE.FindStringSubmatch(text)
	if m == nil {
		return TSIGKey{}, errors.New(`bind key: no "key NAME { algorithm ...; secret ...; };" statement`)
	}
	k := TSIGKey{Name: m[1]}
	for _, f := range bindKeyField.FindAllStringSubmatch(m[2], -1) {
		switch f[1] {
		case "algorithm":
			k.Algorithm = f[2]
		case "secret":
			k.Secret = f[2]
		}
	}
	if k.Secret == "" {
		return TSIGKey{}, fmt.Errorf("bind key %q: no secret", k.Name)
	}
	if _, err := newTSIGSigner(k); err != nil {
		return TSIGKey{}, err
	}
	return k, nil
}

// tsigAlgorithms maps accepted spellings to the algorithm's wire name.
var tsigAlgorithms = map[string]string{
	"hmac-md5":                 dns.HmacMD5,
	"hmac-md5.sig-alg.reg.int": dns.HmacMD5,
	"hmac-sha1":                dns.HmacSHA1,
	"hmac-sha224":              dns.HmacSHA224,
	"hmac-sha256":              dns.HmacSHA256,
	"hmac-sha384":              dns.HmacSHA384,
	"hmac-sha512":              dns.HmacSHA512,
}

// tsigSigner signs and verifies with one key. It is the miekg/dns
// TsigProvider of an updater, so the secret never sits in a map that could
// be printed, and hmac-md5 keeps working (miekg's own provider dropped it).
type tsigSigner struct {
	name      string // lower-case FQDN
	algorithm string // wire name, lower case, trailing dot
	secret    []byte
}

func newTSIGSigner(k TSIGKey) (*tsigSigner, error) {
	name, err := CanonicalKeyName(k.Name)
	if err != nil {
		return nil, err
	}
	alg := strings.ToLower(strings.TrimSuffix(k.Algorithm, "."))
	if alg == "" {
		alg = "hmac-sha256"
	}
	wire, ok := tsigAlgorithms[alg]
	if !ok {
		return nil, fmt.Errorf("tsig key %q: algorithm %q: want hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 or hmac-md5", k.Name, k.Algorithm)
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Secret))
	if err != nil || len(secret) == 0 {
		// The decoder's error quotes a byte offset only, but say
		// nothing of the value to be sure.
		return nil, fmt.Errorf("tsig key %q: secret is not valid base64 (value not shown)", k.Name)
	}
	return &tsigSigner{name: name, algorithm: wire, secret: secret}, nil
}

// CanonicalKeyName returns a TSIG key name as a lower-case FQDN, the form
// servers compare. Unlike record names, a key name may have one label.
func CanonicalKeyName(name string) (string, error) {
	n := dns.CanonicalName(strings.TrimSpace(name))
	if _, ok := dns.IsDomainName(n); !ok || n == "." {
		return "", fmt.Errorf("tsig key name %q: not a domain name", name)
	}
	return n, nil
}

func (s *tsigSigner) mac(msg []byte, t *dns.TSIG) ([]byte, error) {
	if dns.CanonicalName(t.Hdr.Name) != s.name {
		return nil, dns.ErrSecret
	}
	var h func() hash.Hash
	switch dns.CanonicalName(t.Algorithm) {
	case dns.HmacMD5:
		h = md5.New
	case dns.HmacSHA1:
		h = sha1.New
	case dns.HmacSHA224:
		h = sha256.New224
	case dns.HmacSHA256:
		h = sha256.New
	case dns.HmacSHA384:
		h = sha512.New384
	case dns.HmacSHA512:
		h = sha512.New
	default:
		return nil, dns.ErrKeyAlg
	}
	m := hmac.New(h, s.secret)
	m.Write(msg)
	return m.Sum(nil), nil
}

// Generate implements dns.TsigProvider.
func (s *tsigSigner) Generate(msg []byte, t *dns.TSIG) ([]byte, error) { return s.mac(msg, t) }

// Verify implements dns.TsigProvider.
func (s *tsigSigner) Verify(msg []byte, t *dns.TSIG) error {
	want, err := s.mac(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(got, want) {
		return dns.ErrSig
	}
	return nil
}

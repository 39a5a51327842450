package scripting

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KeyPair is an SSH client key: the signer that logs in, the public half
// as an authorized_keys line for the servers, and the private key in
// OpenSSH format for storage or for ssh(1).
type KeyPair struct {
	Signer        ssh.Signer
	AuthorizedKey string // "ssh-ed25519 AAAA... comment"
	PrivateKeyPEM []byte // secret: never log it
}

// GenerateKey makes a new ed25519 key pair. comment ends the authorized
// key line (e.g. "farmhand@shop"); it may be empty. Ed25519 is the default
// because signing costs about 33 µs, against 9 ms for RSA-4096, which
// matters when one controller logs in to hundreds of servers.
func GenerateKey(comment string) (*KeyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if comment != "" {
		line += " " + comment
	}
	return &KeyPair{Signer: signer, AuthorizedKey: line, PrivateKeyPEM: pem.EncodeToMemory(block)}, nil
}

// ParsePrivateKey reads a private key in OpenSSH or PEM format. Errors never
// include the key material.
func ParsePrivateKey(pemBytes []byte) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parse SSH private key: %w", err)
	}
	return s, nil
}

package server

import (
	"github.com/restatego/restate/internal/identity"
)

// loadIdentity reads the request identity key, if one is configured. A key that cannot be used
// stops the node at start: running unsigned would make every deployment that verifies
// identity refuse this server, and later, not at the moment the operator is watching.
func (n *Node) loadIdentity() error {
	inv := n.opts.Worker.Invoker
	if inv.RequestIdentityPrivateKeyPEMFile == "" {
		return nil
	}
	signer, err := identity.LoadFile(inv.RequestIdentityPrivateKeyPEMFile, inv.RequestIdentityExpiration)
	if err != nil {
		return err
	}
	n.identity = signer
	// The key id is public: it is what the SDKs are configured with.
	n.logger.Info("loaded request identity key", "kid", signer.KeyID(), "path", inv.RequestIdentityPrivateKeyPEMFile)
	return nil
}

package e2e

import (
	"testing"

	th "github.com/restatego/restate/internal/testharness"
)

func TestMain(m *testing.M) { th.Main(m) }

var (
	startServer = th.StartServer
	do          = th.Do
	eventually  = th.Eventually
	client      = th.Client
	bytesReader = th.BytesReader
	freePort    = th.FreePort
)

package testservices

import (
	restate "github.com/restatedev/sdk-go"
)

// KeyProxy calls the Counter object on behalf of a client. The object key travels in the
// request body, so keys longer than an ingress URL can carry still reach the partition: this is
// how tests exercise storage with object keys of any length.
type KeyProxy struct{}

// KeyedDelta names a Counter key and an amount.
type KeyedDelta struct {
	Key   string `json:"key"`
	Delta int64  `json:"delta"`
}

// Add calls Counter/{key}/Add with delta.
func (KeyProxy) Add(ctx restate.Context, req KeyedDelta) (int64, error) {
	return restate.Object[int64](ctx, "Counter", req.Key, "Add").Request(req.Delta)
}

// Get calls Counter/{key}/Get.
func (KeyProxy) Get(ctx restate.Context, key string) (int64, error) {
	return restate.Object[int64](ctx, "Counter", key, "Get").Request(nil)
}

// Reset calls Counter/{key}/Reset, which clears all of the key's state.
func (KeyProxy) Reset(ctx restate.Context, key string) error {
	_, err := restate.Object[restate.Void](ctx, "Counter", key, "Reset").Request(nil)
	return err
}

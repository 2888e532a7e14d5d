package conformance

import (
	"time"

	restate "github.com/restatedev/sdk-go"
)

// ProxyRequest names any handler and carries its raw input, as in the suite's Proxy contract.
type ProxyRequest struct {
	ServiceName string `json:"serviceName"`
	// VirtualObjectKey is empty for plain services.
	VirtualObjectKey string `json:"virtualObjectKey,omitempty"`
	HandlerName      string `json:"handlerName"`
	Message          Bytes  `json:"message"`
	DelayMillis      int64  `json:"delayMillis,omitempty"`
	IdempotencyKey   string `json:"idempotencyKey,omitempty"`
}

// ManyCallRequest is one entry of Proxy/manyCalls.
type ManyCallRequest struct {
	ProxyRequest ProxyRequest `json:"proxyRequest"`
	// OneWayCall sends instead of calling.
	OneWayCall bool `json:"oneWayCall"`
	// AwaitAtTheEnd calls without waiting; all such calls are awaited before returning.
	AwaitAtTheEnd bool `json:"awaitAtTheEnd"`
}

// binaryClient targets the handler of req with raw bytes in and out.
func (req ProxyRequest) binaryClient(ctx restate.Context) restate.Client[any, []byte] {
	if req.VirtualObjectKey != "" {
		return restate.Object[[]byte](ctx, req.ServiceName, req.VirtualObjectKey, req.HandlerName, restate.WithBinary)
	}
	return restate.Service[[]byte](ctx, req.ServiceName, req.HandlerName, restate.WithBinary)
}

func (req ProxyRequest) requestOptions() []restate.RequestOption {
	if req.IdempotencyKey == "" {
		return nil
	}
	return []restate.RequestOption{restate.WithIdempotencyKey(req.IdempotencyKey)}
}

func (req ProxyRequest) send(ctx restate.Context) string {
	var opts []restate.SendOption
	if req.IdempotencyKey != "" {
		opts = append(opts, restate.WithIdempotencyKey(req.IdempotencyKey))
	}
	if req.DelayMillis > 0 {
		opts = append(opts, restate.WithDelay(time.Duration(req.DelayMillis)*time.Millisecond))
	}
	return req.binaryClient(ctx).Send([]byte(req.Message), opts...).GetInvocationId()
}

// proxyService is the suite's Proxy: calls and sends to any target on behalf of the test.
func proxyService() restate.ServiceDefinition {
	return restate.NewService("Proxy").
		Handler("call", restate.NewServiceHandler(
			func(ctx restate.Context, req ProxyRequest) (Bytes, error) {
				out, err := req.binaryClient(ctx).Request([]byte(req.Message), req.requestOptions()...)
				if err != nil {
					return nil, err
				}
				return Bytes(out), nil
			})).
		Handler("oneWayCall", restate.NewServiceHandler(
			func(ctx restate.Context, req ProxyRequest) (string, error) {
				return req.send(ctx), nil
			})).
		Handler("manyCalls", restate.NewServiceHandler(
			func(ctx restate.Context, reqs []ManyCallRequest) (restate.Void, error) {
				var pending []restate.ResponseFuture[[]byte]
				for _, r := range reqs {
					switch {
					case r.OneWayCall:
						r.ProxyRequest.send(ctx)
					case r.AwaitAtTheEnd:
						pending = append(pending, r.ProxyRequest.binaryClient(ctx).
							RequestFuture([]byte(r.ProxyRequest.Message), r.ProxyRequest.requestOptions()...))
					default:
						if _, err := r.ProxyRequest.binaryClient(ctx).
							Request([]byte(r.ProxyRequest.Message), r.ProxyRequest.requestOptions()...); err != nil {
							return restate.Void{}, err
						}
					}
				}
				for _, f := range pending {
					if _, err := f.Response(); err != nil {
						return restate.Void{}, err
					}
				}
				return restate.Void{}, nil
			}))
}

// Package nodenet is the node-to-node network on the node port (5122): gRPC over h2c (or over
// TLS, when the node port is configured with a certificate), next to the plain HTTP routes of
// that port. It carries raft traffic as one ordered stream per peer,
// and small request/response calls (forwarded submissions, replies to waiting requests,
// cluster joins) by method name. Payloads are opaque bytes; each caller owns its encoding.
package nodenet

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

const serviceName = "restate.go.Node"

// rawCodec passes byte slices through gRPC untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("nodenet: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("nodenet: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "raw" }

// Handler serves the calls of one method.
type Handler func(ctx context.Context, from uint64, req []byte) ([]byte, error)

// StreamHandler receives the payloads a peer streams to this node, in order.
type StreamHandler func(from uint64, payload []byte)

// Server is the receiving side.
type Server struct {
	grpc    *grpc.Server
	mu      sync.RWMutex
	methods map[string]Handler
	stream  StreamHandler
	blocked func(peer uint64) bool
}

// NewServer creates the gRPC server; serve it through ServeHTTP on the node port.
func NewServer() *Server {
	s := &Server{methods: map[string]Handler{}}
	desc := grpc.ServiceDesc{
		ServiceName: serviceName,
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Call", Handler: s.handleCall}},
		Streams:     []grpc.StreamDesc{{StreamName: "Stream", Handler: s.handleStream, ClientStreams: true}},
	}
	s.grpc = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(64<<20))
	s.grpc.RegisterService(&desc, s)
	return s
}

// Handle registers the handler of a method.
func (s *Server) Handle(method string, h Handler) {
	s.mu.Lock()
	s.methods[method] = h
	s.mu.Unlock()
}

// HandleStream registers the receiver of streamed payloads.
func (s *Server) HandleStream(h StreamHandler) {
	s.mu.Lock()
	s.stream = h
	s.mu.Unlock()
}

// SetBlocked installs a fault-injection filter: traffic from blocked peers is dropped.
func (s *Server) SetBlocked(f func(peer uint64) bool) {
	s.mu.Lock()
	s.blocked = f
	s.mu.Unlock()
}

func (s *Server) isBlocked(peer uint64) bool {
	s.mu.RLock()
	f := s.blocked
	s.mu.RUnlock()
	return f != nil && f(peer)
}

// IsGRPC tells whether a request on the node port is node-to-node gRPC.
func IsGRPC(r *http.Request) bool {
	return r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("content-type"), "application/grpc")
}

// ServeHTTP serves gRPC requests arriving on the node port's HTTP server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.grpc.ServeHTTP(w, r) }

// Stop ends all calls.
func (s *Server) Stop() { s.grpc.Stop() }

func peerOf(ctx context.Context) uint64 {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-node-id"); len(v) > 0 {
		var id uint64
		fmt.Sscan(v[0], &id)
		return id
	}
	return 0
}

// ErrBlocked is returned for calls dropped by fault injection.
var ErrBlocked = errors.New("nodenet: peer is cut off")

func (s *Server) handleCall(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var in []byte
	if err := dec(&in); err != nil {
		return nil, err
	}
	from := peerOf(ctx)
	if s.isBlocked(from) {
		return nil, ErrBlocked
	}
	if len(in) < 2 {
		return nil, errors.New("nodenet: call without a method")
	}
	n := int(binary.BigEndian.Uint16(in))
	if len(in) < 2+n {
		return nil, errors.New("nodenet: truncated method name")
	}
	method := string(in[2 : 2+n])
	s.mu.RLock()
	h := s.methods[method]
	s.mu.RUnlock()
	if h == nil {
		return nil, fmt.Errorf("nodenet: unknown method %q", method)
	}
	out, err := h(ctx, from, in[2+n:])
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (s *Server) handleStream(_ any, stream grpc.ServerStream) error {
	from := peerOf(stream.Context())
	for {
		var b []byte
		if err := stream.RecvMsg(&b); err != nil {
			return nil
		}
		if s.isBlocked(from) {
			continue
		}
		s.mu.RLock()
		h := s.stream
		s.mu.RUnlock()
		if h != nil {
			h(from, b)
		}
	}
}

// Client is the sending side: connections to peers by node id.
type Client struct {
	self    uint64
	resolve func(node uint64) (string, bool)
	logger  *slog.Logger
	creds   credentials.TransportCredentials

	mu      sync.Mutex
	conns   map[string]*grpc.ClientConn
	senders map[uint64]*sender
	blocked func(peer uint64) bool
	closed  bool
}

// NewClient creates a client; resolve maps node ids to advertised addresses. With tlsConfig
// set, every connection speaks TLS with it (it carries the trusted CA and this node's client
// certificate); without, gRPC runs over h2c.
func NewClient(self uint64, resolve func(node uint64) (string, bool), logger *slog.Logger, tlsConfig *tls.Config) *Client {
	if logger == nil {
		logger = slog.Default()
	}
	creds := insecure.NewCredentials()
	if tlsConfig != nil {
		creds = credentials.NewTLS(tlsConfig)
	}
	return &Client{self: self, resolve: resolve, logger: logger, creds: creds, conns: map[string]*grpc.ClientConn{}, senders: map[uint64]*sender{}}
}

// IsHandshakeError tells whether a call failed because the TLS handshake with the peer did:
// a certificate of an authority the other side does not trust, an expired or missing one, or
// a peer that does not speak TLS. Such a failure does not heal by retrying alone.
func IsHandshakeError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ") || strings.Contains(msg, "authentication handshake failed")
}

// SetBlocked installs a fault-injection filter: traffic to blocked peers is dropped.
func (c *Client) SetBlocked(f func(peer uint64) bool) {
	c.mu.Lock()
	c.blocked = f
	c.mu.Unlock()
}

func (c *Client) isBlocked(peer uint64) bool {
	c.mu.Lock()
	f := c.blocked
	c.mu.Unlock()
	return f != nil && f(peer)
}

// target turns an advertised address ("http://host:5122/") into a gRPC target.
func target(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		return u.Host
	}
	return strings.TrimSuffix(addr, "/")
}

func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("nodenet: client closed")
	}
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(target(addr),
		grpc.WithTransportCredentials(c.creds),
		grpc.WithConnectParams(reconnectParams),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, err
	}
	c.conns[addr] = cc
	return cc, nil
}

func (c *Client) outgoing(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-node-id", fmt.Sprint(c.self))
}

// reconnectParams bound how long a connection to a peer that went away stays down once the
// peer is back. gRPC's default backoff grows to two minutes (1s, 1.6s, 2.6s, 4.1s, ...), so
// a node restarted after a few seconds would not hear from its peers, the metadata and
// partition leaders among them, for seconds more; peers are few and on a LAN, so retrying
// often is cheap.
var reconnectParams = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxStreamBackoff},
	MinConnectTimeout: 2 * time.Second,
}

// Call invokes method on node and returns its answer.
func (c *Client) Call(ctx context.Context, node uint64, method string, req []byte) ([]byte, error) {
	addr, ok := c.resolve(node)
	if !ok {
		return nil, fmt.Errorf("nodenet: no address known for node %d", node)
	}
	return c.CallAddr(ctx, addr, method, req)
}

// CallAddr invokes method on the node at addr (used before its id is known).
func (c *Client) CallAddr(ctx context.Context, addr, method string, req []byte) ([]byte, error) {
	cc, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	in := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(method)+len(req)), uint16(len(method)))
	in = append(in, method...)
	in = append(in, req...)
	var out []byte
	if err := cc.Invoke(c.outgoing(ctx), "/"+serviceName+"/Call", &in, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Stream queues a payload for node on its ordered stream. It never blocks: when the peer's
// queue is full, or the peer is unreachable, payloads are dropped (raft retransmits).
func (c *Client) Stream(node uint64, payload []byte) {
	if c.isBlocked(node) {
		return
	}
	c.mu.Lock()
	s := c.senders[node]
	if s == nil && !c.closed {
		s = &sender{c: c, node: node, queue: make(chan []byte, 4096), stop: make(chan struct{})}
		c.senders[node] = s
		go s.run()
	}
	c.mu.Unlock()
	if s == nil {
		return
	}
	select {
	case s.queue <- payload:
	default:
	}
}

// Close drops every connection.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	for _, s := range c.senders {
		close(s.stop)
	}
	for _, cc := range c.conns {
		cc.Close()
	}
	c.mu.Unlock()
}

// maxStreamBackoff caps the pause between attempts to open a peer's stream. A peer that comes
// back must hear from its leaders within a heartbeat or two: until it does, it does not know
// them and cannot serve (a restarted node waits for the metadata leader before anything).
const maxStreamBackoff = 100 * time.Millisecond

type sender struct {
	c     *Client
	node  uint64
	queue chan []byte
	stop  chan struct{}
}

func (s *sender) run() {
	desc := &grpc.StreamDesc{StreamName: "Stream", ClientStreams: true}
	backoff := 50 * time.Millisecond
	var lastWarned time.Time
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		addr, ok := s.c.resolve(s.node)
		var stream grpc.ClientStream
		var cancel context.CancelFunc = func() {}
		if ok {
			cc, err := s.c.conn(addr)
			if err == nil {
				var ctx context.Context
				ctx, cancel = context.WithCancel(s.c.outgoing(context.Background()))
				stream, err = cc.NewStream(ctx, desc, "/"+serviceName+"/Stream")
			}
			if err != nil {
				stream = nil
				if IsHandshakeError(err) && time.Since(lastWarned) > 10*time.Second {
					lastWarned = time.Now()
					s.c.logger.Warn("TLS handshake with a peer failed: check that both nodes' certificates are issued by the CA in tls-ca-file",
						"peer", s.node, "address", addr, "err", err)
				}
			}
		}
		if stream == nil {
			cancel()
			s.drainFor(backoff)
			backoff = min(2*backoff, maxStreamBackoff)
			continue
		}
		backoff = 50 * time.Millisecond
		for {
			var b []byte
			select {
			case <-s.stop:
				cancel()
				return
			case b = <-s.queue:
			}
			if err := stream.SendMsg(&b); err != nil {
				break
			}
		}
		cancel()
	}
}

// drainFor discards queued payloads while the peer is unreachable, for d.
func (s *sender) drainFor(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			return
		case <-s.queue:
		}
	}
}

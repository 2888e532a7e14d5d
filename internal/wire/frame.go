package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// HeaderSize is the size of a frame header in bytes.
const HeaderSize = 8

// FlagRequestedAck is the REQUESTED_ACK bit of the flag block. Only
// ProposeRunCompletion carries it (V7): the SDK then expects a
// ProposeRunCompletionAck instead of the full RunCompletion notification.
const FlagRequestedAck uint16 = 0x8000

// Frame is one protocol message: its header fields and protobuf payload.
type Frame struct {
	Type    MessageType
	Flags   uint16
	Payload []byte
}

// RequestedAck reports whether the REQUESTED_ACK flag is set.
func (f Frame) RequestedAck() bool { return f.Flags&FlagRequestedAck != 0 }

// AppendTo appends the frame, header and payload, to dst.
func (f Frame) AppendTo(dst []byte) []byte { return AppendFrame(dst, f.Type, f.Flags, f.Payload) }

// UnknownMessageTypeError reports a frame whose type code is not part of
// protocol V5-V7 and is not a custom entry.
type UnknownMessageTypeError struct {
	Type MessageType
}

func (e *UnknownMessageTypeError) Error() string {
	return fmt.Sprintf("wire: unknown message type 0x%04x", uint16(e.Type))
}

// MessageTooLargeError reports a frame whose declared payload length exceeds
// the configured maximum message size.
type MessageTooLargeError struct {
	Type   MessageType
	Length uint32
	Max    uint32
}

func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("wire: %s message of %d bytes exceeds the maximum message size of %d bytes",
		e.Type, e.Length, e.Max)
}

// parseHeader splits a frame header. Bits of the flag block other than
// REQUESTED_ACK are reserved; like Restate, we keep but ignore them.
func parseHeader(h []byte) (MessageType, uint16, uint32, error) {
	t := MessageType(binary.BigEndian.Uint16(h[0:2]))
	if !t.Known() {
		return t, 0, 0, &UnknownMessageTypeError{Type: t}
	}
	return t, binary.BigEndian.Uint16(h[2:4]), binary.BigEndian.Uint32(h[4:8]), nil
}

// AppendFrame appends a complete frame (header and payload) to dst.
// It panics if the payload is longer than 2^32-1 bytes.
func AppendFrame(dst []byte, t MessageType, flags uint16, payload []byte) []byte {
	if uint64(len(payload)) > 0xFFFFFFFF {
		panic("wire: frame payload longer than 2^32-1 bytes")
	}
	dst = appendHeader(dst, t, flags, uint32(len(payload)))
	return append(dst, payload...)
}

func appendHeader(dst []byte, t MessageType, flags uint16, length uint32) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(t))
	dst = binary.BigEndian.AppendUint16(dst, flags)
	return binary.BigEndian.AppendUint32(dst, length)
}

// BeginFrame appends a frame header with a zero length to dst, so the
// payload can be encoded straight after it without an intermediate buffer.
// Call FinishFrame with len(dst) as it was before BeginFrame once the payload
// has been appended:
//
//	start := len(buf)
//	buf = wire.BeginFrame(buf, wire.TypeStart, 0)
//	buf = msg.AppendTo(buf, version)
//	buf = wire.FinishFrame(buf, start)
func BeginFrame(dst []byte, t MessageType, flags uint16) []byte {
	return appendHeader(dst, t, flags, 0)
}

// FinishFrame writes the payload length into the header that BeginFrame
// placed at dst[start:]. It panics if the payload is longer than 2^32-1
// bytes or start does not point at a header.
func FinishFrame(dst []byte, start int) []byte {
	n := len(dst) - start - HeaderSize
	if n < 0 || uint64(n) > 0xFFFFFFFF {
		panic("wire: FinishFrame called with an invalid start offset or oversized payload")
	}
	binary.BigEndian.PutUint32(dst[start+4:start+8], uint32(n))
	return dst
}

// DecodeFrames splits buf into complete frames. An incomplete trailing frame
// (header or payload cut short) is returned in rest, starting at its header.
// Payloads alias buf. The only error is an unknown message type; frames
// decoded before it are returned along with it.
func DecodeFrames(buf []byte) (frames []Frame, rest []byte, err error) {
	if n := countFrames(buf); n > 0 {
		frames = make([]Frame, 0, n)
	}
	for len(buf) >= HeaderSize {
		t, flags, length, headerErr := parseHeader(buf)
		if headerErr != nil {
			return frames, buf, headerErr
		}
		if uint64(len(buf)-HeaderSize) < uint64(length) {
			break
		}
		end := HeaderSize + int(length)
		frames = append(frames, Frame{Type: t, Flags: flags, Payload: buf[HeaderSize:end:end]})
		buf = buf[end:]
	}
	return frames, buf, nil
}

// countFrames counts the complete frames at the start of buf, so that
// DecodeFrames allocates its result once.
func countFrames(buf []byte) int {
	n := 0
	for len(buf) >= HeaderSize {
		length := binary.BigEndian.Uint32(buf[4:8])
		if uint64(len(buf)-HeaderSize) < uint64(length) {
			break
		}
		buf = buf[HeaderSize+int(length):]
		n++
	}
	return n
}

const (
	decoderBufferSize = 4096
	// Payloads up to slabMaxPayload bytes are carved out of a shared slab so
	// that a stream of small frames costs one allocation per slab rather than
	// one per frame. Slabs start small, as most streams are short, and grow.
	minSlabSize    = 1024
	maxSlabSize    = 8192
	slabMaxPayload = 512
)

// readBuffers recycles Decoder read buffers; payloads never point into them.
var readBuffers = sync.Pool{New: func() any { return new([decoderBufferSize]byte) }}

// Decoder reads frames from a byte stream, such as an HTTP/2 request or
// response body.
//
// The payloads it returns are never overwritten by later calls, so callers
// may keep them (and the decoded messages aliasing them). Small payloads
// share a backing array with neighbouring frames, so a retained small
// payload can keep up to 8 KiB alive. Call Release when done to recycle the
// read buffer.
type Decoder struct {
	r        io.Reader
	max      uint32
	buf      []byte
	pooled   *[decoderBufferSize]byte
	start    int
	end      int
	slab     []byte
	slabSize int
	readErr  error // error returned by r, to report once buffered bytes are used up
	err      error // sticky decoding error
}

// NewDecoder returns a Decoder that rejects frames with payloads longer than
// maxMessageSize bytes. Zero means no limit beyond the 32-bit length field.
func NewDecoder(r io.Reader, maxMessageSize uint32) *Decoder {
	if maxMessageSize == 0 {
		maxMessageSize = 0xFFFFFFFF
	}
	return &Decoder{r: r, max: maxMessageSize}
}

// Next returns the next frame. It returns io.EOF only when the stream ends
// exactly at a frame boundary and io.ErrUnexpectedEOF when it ends inside a
// frame. Any error is sticky: later calls return it again.
func (d *Decoder) Next() (Frame, error) {
	if d.err != nil {
		return Frame{}, d.err
	}
	f, err := d.next()
	if err != nil {
		d.err = err
	}
	return f, err
}

func (d *Decoder) next() (Frame, error) {
	if err := d.fill(HeaderSize); err != nil {
		return Frame{}, err
	}
	t, flags, length, err := parseHeader(d.buf[d.start : d.start+HeaderSize])
	if err != nil {
		return Frame{}, err
	}
	if length > d.max {
		return Frame{}, &MessageTooLargeError{Type: t, Length: length, Max: d.max}
	}
	d.start += HeaderSize

	payload := d.alloc(int(length))
	n := copy(payload, d.buf[d.start:d.end])
	d.start += n
	if n < len(payload) {
		// The rest of the payload goes straight into its final place.
		if d.readErr != nil {
			return Frame{}, unexpected(d.readErr)
		}
		if _, err := io.ReadFull(d.r, payload[n:]); err != nil {
			return Frame{}, unexpected(err)
		}
	}
	return Frame{Type: t, Flags: flags, Payload: payload}, nil
}

// Release returns the decoder's read buffer to a shared pool. Frames already
// returned stay valid. After Release, Next returns ErrDecoderReleased.
func (d *Decoder) Release() {
	if d.pooled != nil {
		readBuffers.Put(d.pooled)
		d.pooled, d.buf = nil, nil
	}
	if d.err == nil {
		d.err = ErrDecoderReleased
	}
}

// ErrDecoderReleased is returned by Next after Release.
var ErrDecoderReleased = errors.New("wire: decoder released")

// fill makes at least n bytes available in d.buf[d.start:d.end].
func (d *Decoder) fill(n int) error {
	if d.buf == nil {
		d.pooled = readBuffers.Get().(*[decoderBufferSize]byte)
		d.buf = d.pooled[:]
	}
	if d.end-d.start >= n {
		return nil
	}
	if d.start > 0 {
		d.end = copy(d.buf, d.buf[d.start:d.end])
		d.start = 0
	}
	for empty := 0; d.end < n; {
		if d.readErr != nil {
			if d.end == 0 && d.readErr == io.EOF {
				return io.EOF
			}
			return unexpected(d.readErr)
		}
		m, err := d.r.Read(d.buf[d.end:])
		d.end += m
		switch {
		case err != nil:
			d.readErr = err
		case m > 0:
			empty = 0
		default:
			// Guard against readers that keep returning (0, nil).
			if empty++; empty >= 100 {
				d.readErr = io.ErrNoProgress
			}
		}
	}
	return nil
}

func (d *Decoder) alloc(n int) []byte {
	if n > slabMaxPayload {
		return make([]byte, n)
	}
	if len(d.slab) < n {
		d.slabSize = min(max(2*d.slabSize, minSlabSize), maxSlabSize)
		d.slab = make([]byte, d.slabSize)
	}
	p := d.slab[:n:n]
	d.slab = d.slab[n:]
	return p
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

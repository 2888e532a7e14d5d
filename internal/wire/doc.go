// Package wire implements the Restate service protocol (versions 5 to 7) as
// spoken between the server and a service deployment: the 8-byte frame
// header, the message type table, and hand-written protobuf encoders and
// decoders for every message.
//
// The protobuf code is written against protowire instead of generated code so
// that decoding allocates little and can alias the input: unless a field's
// documentation says otherwise, every []byte field produced by an Unmarshal
// method points into the payload that was decoded. Callers that keep such a
// field after the payload's buffer may change must copy it. String fields are
// always copies.
//
// The server stores command payloads verbatim and replays them byte for byte,
// so decoders here only extract what the server acts on; they skip unknown
// fields the way proto3 requires.
package wire

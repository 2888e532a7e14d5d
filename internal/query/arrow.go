package query

import (
	"encoding/binary"
	"io"
	"math"
)

// Arrow IPC streaming format (https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format):
// a Schema message, one RecordBatch message per batch, then an end-of-stream marker. Each
// message is 0xFFFFFFFF, the little-endian length of its FlatBuffers metadata (padded to 8
// bytes), the metadata, then the message body.

// ArrowContentType is the media type of an Arrow IPC stream.
const ArrowContentType = "application/vnd.apache.arrow.stream"

// Values from Arrow's Schema.fbs and Message.fbs.
const (
	arrowMetadataV5 = 4

	arrowHeaderSchema      = 1
	arrowHeaderRecordBatch = 3

	arrowTypeNull          = 1
	arrowTypeInt           = 2
	arrowTypeFloatingPoint = 3
	arrowTypeBinary        = 4
	arrowTypeUtf8          = 5
	arrowTypeBool          = 6
	arrowTypeTimestamp     = 10
	arrowTypeDuration      = 18

	arrowPrecisionDouble = 2
	arrowUnitMillisecond = 1
)

// arrowBatchRows bounds the rows per record batch, like DataFusion's default batch size.
const arrowBatchRows = 8192

// WriteArrowStream writes rows as an Arrow IPC stream. Values that do not have their
// column's type are converted, or written as NULL when they do not convert.
func WriteArrowStream(w io.Writer, cols []Column, rows []Row) error {
	if err := writeArrowMessage(w, arrowHeaderSchema, arrowSchema(cols), nil); err != nil {
		return err
	}
	for start := 0; start < len(rows); start += arrowBatchRows {
		end := min(start+arrowBatchRows, len(rows))
		meta, body := arrowRecordBatch(cols, rows[start:end])
		if err := writeArrowMessage(w, arrowHeaderRecordBatch, meta, body); err != nil {
			return err
		}
	}
	_, err := w.Write([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	return err
}

func writeArrowMessage(w io.Writer, headerType uint64, header fbTable, body []byte) error {
	meta := finishFlatbuffer(fbTable{
		fbScalar(0, 2, arrowMetadataV5),
		fbScalar(1, 1, headerType),
		fbOffset(2, header),
		fbScalar(3, 8, uint64(len(body))),
	})
	prefix := make([]byte, 8)
	binary.LittleEndian.PutUint32(prefix, 0xffffffff)
	binary.LittleEndian.PutUint32(prefix[4:], uint32(len(meta)))
	if _, err := w.Write(prefix); err != nil {
		return err
	}
	if _, err := w.Write(meta); err != nil {
		return err
	}
	if len(body) > 0 {
		_, err := w.Write(body)
		return err
	}
	return nil
}

func arrowSchema(cols []Column) fbTable {
	fields := make(fbTables, len(cols))
	for i, c := range cols {
		typeID, typeTable := arrowType(c.Type)
		fields[i] = fbTable{
			fbOffset(0, fbString(c.Name)),
			fbScalar(1, 1, 1), // nullable
			fbScalar(2, 1, typeID),
			fbOffset(3, typeTable),
			fbOffset(5, fbTables{}), // children
		}
	}
	return fbTable{
		fbScalar(0, 2, 0), // little endian
		fbOffset(1, fields),
	}
}

func arrowType(t Type) (uint64, fbTable) {
	switch t {
	case TypeString:
		return arrowTypeUtf8, fbTable{}
	case TypeBytes:
		return arrowTypeBinary, fbTable{}
	case TypeBool:
		return arrowTypeBool, fbTable{}
	case TypeInt64:
		return arrowTypeInt, fbTable{fbScalar(0, 4, 64), fbScalar(1, 1, 1)}
	case TypeUInt64:
		return arrowTypeInt, fbTable{fbScalar(0, 4, 64), fbScalar(1, 1, 0)}
	case TypeUInt32:
		return arrowTypeInt, fbTable{fbScalar(0, 4, 32), fbScalar(1, 1, 0)}
	case TypeFloat64:
		return arrowTypeFloatingPoint, fbTable{fbScalar(0, 2, arrowPrecisionDouble)}
	case TypeTimestamp:
		return arrowTypeTimestamp, fbTable{fbScalar(0, 2, arrowUnitMillisecond), fbOffset(1, fbString("+00:00"))}
	case TypeDuration:
		return arrowTypeDuration, fbTable{fbScalar(0, 2, arrowUnitMillisecond)}
	}
	return arrowTypeNull, fbTable{}
}

// arrowBody accumulates the buffers of a record batch, each padded to 8 bytes.
type arrowBody struct {
	data    []byte
	buffers []int64 // offset, length pairs
	nodes   []int64 // length, null count pairs
}

func (b *arrowBody) add(buf []byte) {
	b.buffers = append(b.buffers, int64(len(b.data)), int64(len(buf)))
	b.data = append(b.data, buf...)
	for len(b.data)%8 != 0 {
		b.data = append(b.data, 0)
	}
}

func arrowRecordBatch(cols []Column, rows []Row) (fbTable, []byte) {
	body := &arrowBody{}
	n := len(rows)
	for ci, c := range cols {
		vals := make([]Value, n)
		nulls := 0
		for i, r := range rows {
			v := r[ci]
			if v.Type() != c.Type && !v.IsNull() {
				if cv, err := castValue(v, c.Type); err == nil {
					v = cv
				} else {
					v = Null
				}
			}
			if v.IsNull() {
				nulls++
			}
			vals[i] = v
		}
		if c.Type == TypeNull {
			body.nodes = append(body.nodes, int64(n), int64(n))
			continue // the Null layout has no buffers
		}
		body.nodes = append(body.nodes, int64(n), int64(nulls))
		if nulls == 0 {
			body.add(nil)
		} else {
			bitmap := make([]byte, (n+7)/8)
			for i, v := range vals {
				if !v.IsNull() {
					bitmap[i/8] |= 1 << (i % 8)
				}
			}
			body.add(bitmap)
		}
		switch c.Type {
		case TypeString, TypeBytes:
			offsets := make([]byte, 4*(n+1))
			var data []byte
			for i, v := range vals {
				data = append(data, v.s...)
				binary.LittleEndian.PutUint32(offsets[4*(i+1):], uint32(len(data)))
			}
			body.add(offsets)
			body.add(data)
		case TypeBool:
			bits := make([]byte, (n+7)/8)
			for i, v := range vals {
				if v.AsBool() {
					bits[i/8] |= 1 << (i % 8)
				}
			}
			body.add(bits)
		case TypeUInt32:
			buf := make([]byte, 4*n)
			for i, v := range vals {
				binary.LittleEndian.PutUint32(buf[4*i:], uint32(v.i))
			}
			body.add(buf)
		default: // 64-bit values
			buf := make([]byte, 8*n)
			for i, v := range vals {
				var x uint64
				switch c.Type {
				case TypeUInt64:
					x = v.u
				case TypeFloat64:
					x = math.Float64bits(v.f)
				default:
					x = uint64(v.i)
				}
				binary.LittleEndian.PutUint64(buf[8*i:], x)
			}
			body.add(buf)
		}
	}
	meta := fbTable{
		fbScalar(0, 8, uint64(n)),
		fbOffset(1, fbStructs{fieldsPerStruct: 2, values: body.nodes}),
		fbOffset(2, fbStructs{fieldsPerStruct: 2, values: body.buffers}),
	}
	return meta, body.data
}

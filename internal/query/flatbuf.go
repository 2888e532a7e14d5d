package query

import (
	"encoding/binary"
	"sort"
)

// A minimal FlatBuffers writer, enough for Arrow IPC metadata. Objects are laid out parent
// first: a table's inline part is written, then its children, and each child offset is
// patched once the child's position is known (FlatBuffers offsets point forward, so this
// order always yields valid, unsigned offsets). Vtables are written just before their table.

type fbBuilder struct{ buf []byte }

func (b *fbBuilder) pad(align int) {
	for len(b.buf)%align != 0 {
		b.buf = append(b.buf, 0)
	}
}

// fbObject is anything an offset can point to.
type fbObject interface {
	// write appends the object and returns the position offsets must point at.
	write(b *fbBuilder) int
}

// fbField is one table field: a little-endian scalar of size bytes, or an offset to child.
type fbField struct {
	id     int
	size   int
	scalar uint64
	child  fbObject
}

func fbScalar(id, size int, v uint64) fbField { return fbField{id: id, size: size, scalar: v} }
func fbOffset(id int, child fbObject) fbField { return fbField{id: id, size: 4, child: child} }

type fbTable []fbField

func (t fbTable) write(b *fbBuilder) int {
	numSlots := 0
	for _, f := range t {
		numSlots = max(numSlots, f.id+1)
	}
	// Lay out fields largest first so each is naturally aligned after the 4-byte soffset.
	order := make([]int, len(t))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return t[order[i]].size > t[order[j]].size })
	offsets := make([]int, len(t))
	pos := 4
	for _, i := range order {
		sz := t[i].size
		for pos%sz != 0 {
			pos++
		}
		offsets[i] = pos
		pos += sz
	}
	tableSize := pos
	for tableSize%4 != 0 {
		tableSize++
	}

	// Vtable, then the table aligned to 8 (its largest possible field).
	b.pad(2)
	vtPos := len(b.buf)
	vt := make([]byte, 4+2*numSlots)
	binary.LittleEndian.PutUint16(vt[0:], uint16(len(vt)))
	binary.LittleEndian.PutUint16(vt[2:], uint16(tableSize))
	for i, f := range t {
		binary.LittleEndian.PutUint16(vt[4+2*f.id:], uint16(offsets[i]))
	}
	b.buf = append(b.buf, vt...)
	b.pad(8)
	tablePos := len(b.buf)
	b.buf = append(b.buf, make([]byte, tableSize)...)
	binary.LittleEndian.PutUint32(b.buf[tablePos:], uint32(int32(tablePos-vtPos)))
	for i, f := range t {
		at := tablePos + offsets[i]
		switch f.size {
		case 1:
			b.buf[at] = byte(f.scalar)
		case 2:
			binary.LittleEndian.PutUint16(b.buf[at:], uint16(f.scalar))
		case 4:
			binary.LittleEndian.PutUint32(b.buf[at:], uint32(f.scalar))
		case 8:
			binary.LittleEndian.PutUint64(b.buf[at:], f.scalar)
		}
	}
	for i, f := range t {
		if f.child == nil {
			continue
		}
		at := tablePos + offsets[i]
		target := f.child.write(b)
		binary.LittleEndian.PutUint32(b.buf[at:], uint32(target-at))
	}
	return tablePos
}

type fbString string

func (s fbString) write(b *fbBuilder) int {
	b.pad(4)
	pos := len(b.buf)
	b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(len(s)))
	b.buf = append(b.buf, s...)
	b.buf = append(b.buf, 0)
	return pos
}

// fbTables is a vector of tables.
type fbTables []fbObject

func (v fbTables) write(b *fbBuilder) int {
	b.pad(4)
	pos := len(b.buf)
	b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(len(v)))
	slots := len(b.buf)
	b.buf = append(b.buf, make([]byte, 4*len(v))...)
	for i, t := range v {
		at := slots + 4*i
		target := t.write(b)
		binary.LittleEndian.PutUint32(b.buf[at:], uint32(target-at))
	}
	return pos
}

// fbStructs is a vector of structs made of 8-byte integers (Arrow's FieldNode and Buffer).
type fbStructs struct {
	fieldsPerStruct int
	values          []int64
}

func (v fbStructs) write(b *fbBuilder) int {
	// The elements must be 8-aligned, so the 4-byte length sits 4 bytes before that.
	b.pad(4)
	if len(b.buf)%8 == 0 {
		b.buf = append(b.buf, 0, 0, 0, 0)
	}
	pos := len(b.buf)
	b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(len(v.values)/v.fieldsPerStruct))
	for _, x := range v.values {
		b.buf = binary.LittleEndian.AppendUint64(b.buf, uint64(x))
	}
	return pos
}

// finishFlatbuffer writes root as the root table of a new buffer.
func finishFlatbuffer(root fbTable) []byte {
	b := &fbBuilder{buf: make([]byte, 4, 256)}
	pos := root.write(b)
	binary.LittleEndian.PutUint32(b.buf[0:], uint32(pos))
	b.pad(8)
	return b.buf
}

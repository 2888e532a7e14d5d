package wire

import "strconv"

// Combinator is Future.combinator_type.
type Combinator uint32

const (
	// CombinatorUnknown is treated as FirstCompleted.
	CombinatorUnknown Combinator = 0
	// FirstCompleted resolves when any child completes (Promise.race).
	FirstCompleted Combinator = 1
	// AllCompleted resolves when every child completed (Promise.allSettled).
	AllCompleted Combinator = 2
	// FirstSucceededOrAllFailed resolves on the first success or when all
	// children failed (Promise.any).
	FirstSucceededOrAllFailed Combinator = 3
	// AllSucceededOrFirstFailed resolves when all children succeeded or on
	// the first failure (Promise.all).
	AllSucceededOrFirstFailed Combinator = 4
)

// maxFutureDepth bounds the nesting accepted from the wire, so hostile input
// cannot make decoding or evaluation recurse without limit. SDKs nest a few
// levels at most.
const maxFutureDepth = 64

// Future is a tree of awaited notifications (V7). A node's children are its
// leaves (the three lists) followed by its nested futures, combined by
// Combinator.
type Future struct {
	WaitingCompletions  []uint32
	WaitingSignals      []uint32
	WaitingNamedSignals []string
	Nested              []Future
	Combinator          Combinator
}

// IDKind says how a notification is identified.
type IDKind uint8

const (
	IDNone       IDKind = iota // no id set
	IDCompletion               // completion_id
	IDSignal                   // signal_id
	IDSignalName               // signal_name
)

// NotificationID identifies a notification: a completion id, a signal id or
// a signal name.
type NotificationID struct {
	Kind IDKind
	// ID is the completion id or signal id.
	ID uint32
	// Name is the signal name.
	Name string
}

// CompletionID returns the id of the completion with the given id.
func CompletionID(id uint32) NotificationID { return NotificationID{Kind: IDCompletion, ID: id} }

// SignalID returns the id of the signal with the given index.
func SignalID(id uint32) NotificationID { return NotificationID{Kind: IDSignal, ID: id} }

// NamedSignal returns the id of the signal with the given name.
func NamedSignal(name string) NotificationID {
	return NotificationID{Kind: IDSignalName, Name: name}
}

func (n NotificationID) String() string {
	switch n.Kind {
	case IDCompletion:
		return "completion " + strconv.FormatUint(uint64(n.ID), 10)
	case IDSignal:
		return "signal " + strconv.FormatUint(uint64(n.ID), 10)
	case IDSignalName:
		return "signal " + strconv.Quote(n.Name)
	}
	return "no id"
}

// Outcome is the state of one awaited notification.
type Outcome uint8

const (
	Pending   Outcome = iota // not in the journal yet
	Succeeded                // present with a non-failure result
	Failed                   // present with a Failure result
)

// Resolved reports whether the await described by f can make progress given
// the outcome of each leaf. It errs on the side of true: when the order in
// which children completed matters (which child was "first") and cannot be
// known from outcomes alone, every possible order is assumed. Resuming too
// early is harmless (the SDK suspends again), missing a resumption is not.
func (f *Future) Resolved(outcome func(NotificationID) Outcome) bool {
	return f.eval(outcome, 0).done
}

// evalState is the evaluation of one node: whether it may have completed and
// which results it may have completed with.
type evalState struct {
	done, mayOK, mayFail bool
}

type childSummary struct {
	anyDone, anyOK, anyFail       bool // some completed child may have that result
	allDone, allMayOK, allMayFail bool // every child completed (with that result possible)
}

func (s *childSummary) add(c evalState) {
	if !c.done {
		s.allDone, s.allMayOK, s.allMayFail = false, false, false
		return
	}
	s.anyDone = true
	s.anyOK = s.anyOK || c.mayOK
	s.anyFail = s.anyFail || c.mayFail
	s.allMayOK = s.allMayOK && c.mayOK
	s.allMayFail = s.allMayFail && c.mayFail
}

func leafState(o Outcome) evalState {
	return evalState{done: o != Pending, mayOK: o == Succeeded, mayFail: o == Failed}
}

func (f *Future) eval(outcome func(NotificationID) Outcome, depth int) evalState {
	s := childSummary{allDone: true, allMayOK: true, allMayFail: true}
	for _, id := range f.WaitingCompletions {
		s.add(leafState(outcome(CompletionID(id))))
	}
	for _, id := range f.WaitingSignals {
		s.add(leafState(outcome(SignalID(id))))
	}
	for _, name := range f.WaitingNamedSignals {
		s.add(leafState(outcome(NamedSignal(name))))
	}
	if depth < maxFutureDepth {
		for i := range f.Nested {
			s.add(f.Nested[i].eval(outcome, depth+1))
		}
	} else if len(f.Nested) > 0 {
		// Too deep to evaluate (only reachable for trees built in memory):
		// assume resolved.
		s.add(evalState{done: true, mayOK: true, mayFail: true})
	}

	switch f.Combinator {
	case AllCompleted:
		return evalState{done: s.allDone, mayOK: true, mayFail: s.anyFail}
	case FirstSucceededOrAllFailed:
		return evalState{done: s.anyOK || s.allMayFail, mayOK: s.anyOK, mayFail: s.allMayFail}
	case AllSucceededOrFirstFailed:
		return evalState{done: s.anyFail || s.allMayOK, mayOK: s.allMayOK, mayFail: s.anyFail}
	default: // FirstCompleted, CombinatorUnknown, and values from newer protocols
		return evalState{done: s.anyDone, mayOK: s.anyOK, mayFail: s.anyFail}
	}
}

// VisitLeaves calls fn for every leaf id in the tree, depth first.
func (f *Future) VisitLeaves(fn func(NotificationID)) {
	f.visit(fn, 0)
}

func (f *Future) visit(fn func(NotificationID), depth int) {
	for _, id := range f.WaitingCompletions {
		fn(CompletionID(id))
	}
	for _, id := range f.WaitingSignals {
		fn(SignalID(id))
	}
	for _, name := range f.WaitingNamedSignals {
		fn(NamedSignal(name))
	}
	if depth < maxFutureDepth {
		for i := range f.Nested {
			f.Nested[i].visit(fn, depth+1)
		}
	}
}

// Leaves returns every leaf of the tree grouped by kind, in depth-first
// order. Ids awaited at several places appear several times.
func (f *Future) Leaves() (completions, signals []uint32, names []string) {
	f.VisitLeaves(func(id NotificationID) {
		switch id.Kind {
		case IDCompletion:
			completions = append(completions, id.ID)
		case IDSignal:
			signals = append(signals, id.ID)
		case IDSignalName:
			names = append(names, id.Name)
		}
	})
	return completions, signals, names
}

// IsEmpty reports whether the tree has no leaves at all. Restate rejects a
// suspension on an empty tree.
func (f *Future) IsEmpty() bool {
	empty := true
	f.VisitLeaves(func(NotificationID) { empty = false })
	return empty
}

func (f *Future) size() int {
	n := sizePackedUint32s(1, f.WaitingCompletions) + sizePackedUint32s(2, f.WaitingSignals)
	for _, s := range f.WaitingNamedSignals {
		n += sizeMessageField(3, len(s))
	}
	for i := range f.Nested {
		n += sizeMessageField(4, f.Nested[i].size())
	}
	return n + sizeVarintField(5, uint64(f.Combinator))
}

func (f *Future) appendTo(b []byte) []byte {
	b = appendPackedUint32s(b, 1, f.WaitingCompletions)
	b = appendPackedUint32s(b, 2, f.WaitingSignals)
	for _, s := range f.WaitingNamedSignals {
		b = appendStringAlways(b, 3, s)
	}
	for i := range f.Nested {
		b = appendMessageHeader(b, 4, f.Nested[i].size())
		b = f.Nested[i].appendTo(b)
	}
	return appendVarintField(b, 5, uint64(f.Combinator))
}

// Unmarshal decodes a Future message.
func (f *Future) Unmarshal(b []byte) error {
	*f = Future{}
	return f.merge(b, 0)
}

// merge decodes b into f, appending to repeated fields as protobuf merging
// requires.
func (f *Future) merge(b []byte, depth int) error {
	if depth >= maxFutureDepth {
		return &DecodeError{Message: "Future", Reason: "nested futures exceed the maximum depth of " + strconv.Itoa(maxFutureDepth)}
	}
	it := fieldIter{b: b, msg: "Future"}
	for it.next() {
		switch it.num {
		case 1:
			f.WaitingCompletions = it.uint32s(f.WaitingCompletions)
		case 2:
			f.WaitingSignals = it.uint32s(f.WaitingSignals)
		case 3:
			f.WaitingNamedSignals = append(f.WaitingNamedSignals, it.string())
		case 4:
			body := it.bytes()
			if it.err != nil {
				break
			}
			f.Nested = append(f.Nested, Future{})
			if err := f.Nested[len(f.Nested)-1].merge(body, depth+1); err != nil {
				return err
			}
		case 5:
			f.Combinator = Combinator(it.uint32())
		default:
			it.skip()
		}
	}
	return it.err
}

package query

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/restatego/restate/internal/ids"
	"github.com/restatego/restate/internal/partition"
	"github.com/restatego/restate/internal/redact"
	"github.com/restatego/restate/internal/schema"
	"github.com/restatego/restate/internal/wire"
)

// Partitions tells the engine where the partitioned tables' rows live.
type Partitions struct {
	// Count is the number of partitions (keys map to partitions by it).
	Count func() uint16
	// Local lists the processors this node reads itself; they may change between queries.
	Local func() []*partition.Processor
	// Held lists every processor on this node, including those it does not read its rows
	// from (a follower's): enough to name the caller of an invocation. Nil means Local.
	Held func() []*partition.Processor
	// Remote reads a table's rows of every partition not in local (what Local returned for
	// this scan) from the nodes that hold them. Nil when every partition is local.
	Remote func(ctx context.Context, table string, filters []Equality, local []*partition.Processor, emit func(Row) bool) error
}

// LocalPartitions is the Partitions of a node that holds every partition itself.
func LocalPartitions(procs []*partition.Processor) Partitions {
	return Partitions{
		Count: func() uint16 { return uint16(len(procs)) },
		Local: func() []*partition.Processor { return procs },
	}
}

// rowsFunc produces a table's rows; filters are the WHERE clause's equalities it may use.
type rowsFunc = func(ctx context.Context, filters []Equality, emit func(Row) bool) error

// partitionedTable is a table whose rows are spread over the partitions.
type partitionedTable struct {
	name string
	cols []Column
	rows func(s *engineSource) rowsFunc
}

func invocationTable(name string, cols []Column, view invocationView) partitionedTable {
	return partitionedTable{name, cols, func(s *engineSource) rowsFunc { return s.invocationRows(view) }}
}

var partitionedTables = []partitionedTable{
	invocationTable("sys_invocation", sysInvocationColumns, viewInvocation),
	invocationTable("sys_invocation_status", sysInvocationStatusColumns, viewStatus),
	invocationTable("sys_invocation_state", sysInvocationStateColumns, viewState),
	invocationTable("sys_inbox", sysInboxColumns, viewInbox),
	invocationTable("sys_keyed_service_status", sysKeyedServiceStatusColumns, viewKeyedStatus),
	invocationTable("sys_idempotency", sysIdempotencyColumns, viewIdempotency),
	{"sys_journal", sysJournalColumns, func(s *engineSource) rowsFunc { return s.journalRows }},
	{"state", stateColumns, func(s *engineSource) rowsFunc { return s.stateRows }},
}

// EngineTables returns the introspection tables over the node's partitions and schema:
// sys_invocation, sys_invocation_status, sys_invocation_state, sys_journal, state, sys_inbox,
// sys_keyed_service_status, sys_idempotency, sys_service and sys_deployment. Partitioned
// tables read the local processors first, then the other partitions through parts.Remote.
func EngineTables(parts Partitions, snapshot func() *schema.Snapshot) []Table {
	out := make([]Table, 0, len(partitionedTables)+2)
	for _, pt := range partitionedTables {
		out = append(out, &FuncTable{TableName: pt.name, Cols: pt.cols, Rows: func(ctx context.Context, filters []Equality, emit func(Row) bool) error {
			local := parts.Local()
			src := &engineSource{procs: local, held: local, count: parts.Count(), now: time.Now}
			if parts.Held != nil {
				src.held = parts.Held()
			}
			stopped := false
			err := pt.rows(src)(ctx, filters, func(r Row) bool {
				if !emit(r) {
					stopped = true
				}
				return !stopped
			})
			if err != nil || stopped || parts.Remote == nil {
				return err
			}
			return parts.Remote(ctx, pt.name, filters, local, emit)
		}})
	}
	return append(out,
		&FuncTable{TableName: "sys_service", Cols: sysServiceColumns, Rows: serviceRows(snapshot)},
		&FuncTable{TableName: "sys_deployment", Cols: sysDeploymentColumns, Rows: deploymentRows(snapshot)})
}

// PartitionedColumns returns the columns of a partitioned table, or false for any other name.
func PartitionedColumns(table string) ([]Column, bool) {
	for _, pt := range partitionedTables {
		if pt.name == table {
			return pt.cols, true
		}
	}
	return nil, false
}

// ScanLocal reads the rows of a partitioned table from the processors procs only: how a node
// answers another node's Remote scan. held are all the node's processors (see
// Partitions.Held) and count is the cluster's number of partitions.
func ScanLocal(ctx context.Context, table string, procs, held []*partition.Processor, count uint16, filters []Equality, emit func(Row) bool) error {
	for _, pt := range partitionedTables {
		if pt.name == table {
			return pt.rows(&engineSource{procs: procs, held: held, count: count, now: time.Now})(ctx, filters, emit)
		}
	}
	return fmt.Errorf("%q is not a partitioned table", table)
}

// Columns of the tables, named and typed as Restate names and types them (LargeUtf8 is Utf8
// here: Restate converts it before answering too).
var (
	invocationTargetColumns = []Column{
		{"target", TypeString}, {"target_service_name", TypeString}, {"target_service_key", TypeString},
		{"target_handler_name", TypeString}, {"target_service_ty", TypeString},
	}
	invocationStatusTail = []Column{
		{"idempotency_key", TypeString}, {"invoked_by", TypeString}, {"invoked_by_service_name", TypeString},
		{"invoked_by_id", TypeString}, {"invoked_by_subscription_id", TypeString}, {"invoked_by_target", TypeString},
		{"restarted_from", TypeString}, {"pinned_deployment_id", TypeString}, {"pinned_service_protocol_version", TypeUInt32},
		{"trace_id", TypeString}, {"journal_size", TypeUInt32}, {"journal_commands_size", TypeUInt32},
		{"created_at", TypeTimestamp}, {"created_using_restate_version", TypeString}, {"modified_at", TypeTimestamp},
		{"inboxed_at", TypeTimestamp}, {"scheduled_at", TypeTimestamp}, {"scheduled_start_at", TypeTimestamp},
		{"running_at", TypeTimestamp}, {"completed_at", TypeTimestamp}, {"completion_retention", TypeDuration},
		{"journal_retention", TypeDuration},
	}
	invocationStateTail = []Column{
		{"in_flight", TypeBool}, {"retry_count", TypeUInt64}, {"last_start_at", TypeTimestamp},
		{"next_retry_at", TypeTimestamp}, {"last_attempt_deployment_id", TypeString}, {"last_attempt_server", TypeString},
		{"last_failure", TypeString}, {"last_failure_error_code", TypeString},
		{"last_failure_related_entry_index", TypeUInt64}, {"last_failure_related_entry_name", TypeString},
		{"last_failure_related_entry_type", TypeString}, {"last_failure_related_command_index", TypeUInt64},
		{"last_failure_related_command_name", TypeString}, {"last_failure_related_command_type", TypeString},
	}
	sysInvocationStatusColumns = concatColumns(
		[]Column{{"partition_key", TypeUInt64}, {"id", TypeString}, {"status", TypeString},
			{"completion_result", TypeString}, {"completion_failure", TypeString}},
		invocationTargetColumns, invocationStatusTail)
	sysInvocationStateColumns = concatColumns(
		[]Column{{"partition_key", TypeUInt64}, {"id", TypeString}}, invocationStateTail)
	sysInvocationColumns = concatColumns(
		[]Column{{"partition_key", TypeUInt64}, {"id", TypeString}, {"status", TypeString},
			{"completion_result", TypeString}, {"completion_failure", TypeString}},
		invocationTargetColumns, invocationStatusTail, invocationStateTail)
	sysInboxColumns = []Column{
		{"partition_key", TypeUInt64}, {"service_name", TypeString}, {"service_key", TypeString},
		{"id", TypeString}, {"sequence_number", TypeUInt64}, {"created_at", TypeTimestamp},
	}
	sysKeyedServiceStatusColumns = []Column{
		{"partition_key", TypeUInt64}, {"service_name", TypeString}, {"service_key", TypeString},
		{"invocation_id", TypeString},
	}
	sysIdempotencyColumns = []Column{
		{"partition_key", TypeUInt64}, {"service_name", TypeString}, {"service_key", TypeString},
		{"service_handler", TypeString}, {"idempotency_key", TypeString}, {"invocation_id", TypeString},
	}
	sysJournalColumns = []Column{
		{"partition_key", TypeUInt64}, {"id", TypeString}, {"index", TypeUInt32}, {"entry_type", TypeString},
		{"name", TypeString}, {"completed", TypeBool}, {"invoked_id", TypeString}, {"invoked_target", TypeString},
		{"sleep_wakeup_at", TypeTimestamp}, {"promise_name", TypeString}, {"raw", TypeBytes},
		{"version", TypeUInt32}, {"entry_json", TypeString}, {"entry_lite_json", TypeString},
		{"appended_at", TypeTimestamp},
	}
	stateColumns = []Column{
		{"partition_key", TypeUInt64}, {"service_name", TypeString}, {"service_key", TypeString},
		{"key", TypeString}, {"value_utf8", TypeString}, {"value", TypeBytes},
	}
	sysServiceColumns = []Column{
		{"name", TypeString}, {"revision", TypeUInt64}, {"public", TypeBool}, {"ty", TypeString},
		{"deployment_id", TypeString},
	}
	sysDeploymentColumns = []Column{
		{"id", TypeString}, {"ty", TypeString}, {"endpoint", TypeString}, {"created_at", TypeTimestamp},
		{"min_service_protocol_version", TypeUInt32}, {"max_service_protocol_version", TypeUInt32},
	}
)

func concatColumns(parts ...[]Column) []Column {
	var out []Column
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// rowBuilder fills a row by column name, leaving unset columns NULL.
type rowBuilder struct {
	index map[string]int
	row   Row
}

func newRowBuilder(cols []Column) func() *rowBuilder {
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c.Name] = i
	}
	return func() *rowBuilder { return &rowBuilder{index: index, row: make(Row, len(cols))} }
}

func (b *rowBuilder) set(name string, v Value) {
	if i, ok := b.index[name]; ok {
		b.row[i] = v
	}
}

type engineSource struct {
	procs []*partition.Processor // whose rows this scan reads
	held  []*partition.Processor // all on this node, for looking up callers
	count uint16                 // partitions in the cluster, local or not
	now   func() time.Time
}

// procFor returns the processor owning partition key pk among those this scan reads, or nil.
func (s *engineSource) procFor(pk uint64) *partition.Processor {
	return s.find(s.procs, pk)
}

func (s *engineSource) find(procs []*partition.Processor, pk uint64) *partition.Processor {
	if s.count == 0 {
		return nil
	}
	id := ids.PartitionForKey(pk, s.count)
	for _, p := range procs {
		if p.ID() == id {
			return p
		}
	}
	return nil
}

// invocationIDs parses the invocation ids a filter allows; unparsable ids match nothing.
func invocationIDs(values []Value) []ids.InvocationID {
	var out []ids.InvocationID
	for _, v := range values {
		if v.Type() != TypeString {
			continue
		}
		if id, err := ids.ParseInvocationID(v.Str()); err == nil {
			out = append(out, id)
		}
	}
	return out
}

type invocationView uint8

const (
	viewInvocation invocationView = iota
	viewStatus
	viewState
	viewInbox
	viewKeyedStatus
	viewIdempotency
)

// scanInvocations visits stored invocations: only those named by an id filter when there is one.
func (s *engineSource) scanInvocations(ctx context.Context, idColumn string, filters []Equality, fn func(p *partition.Processor, id ids.InvocationID, st *partition.Status) bool) error {
	if want, ok := Lookup(filters, idColumn); ok {
		for _, id := range invocationIDs(want) {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := s.procFor(id.PartitionKey)
			if p == nil {
				continue
			}
			st, err := p.ReadStatus(id)
			if err != nil {
				return fmt.Errorf("reading invocation %s: %w", id, err)
			}
			if st != nil && !fn(p, id, st) {
				return nil
			}
		}
		return nil
	}
	for _, p := range s.procs {
		stopped := false
		var ctxErr error
		err := p.ScanInvocations(func(id ids.InvocationID, st *partition.Status) bool {
			if ctxErr = ctx.Err(); ctxErr != nil {
				return false
			}
			if !fn(p, id, st) {
				stopped = true
				return false
			}
			return true
		})
		if ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			return fmt.Errorf("scanning invocations of partition %d: %w", p.ID(), err)
		}
		if stopped {
			return nil
		}
	}
	return nil
}

func (s *engineSource) invocationRows(view invocationView) func(context.Context, []Equality, func(Row) bool) error {
	var cols []Column
	idColumn := "id"
	switch view {
	case viewInvocation:
		cols = sysInvocationColumns
	case viewStatus:
		cols = sysInvocationStatusColumns
	case viewState:
		cols = sysInvocationStateColumns
	case viewInbox:
		cols = sysInboxColumns
	case viewKeyedStatus:
		cols, idColumn = sysKeyedServiceStatusColumns, "invocation_id"
	case viewIdempotency:
		cols, idColumn = sysIdempotencyColumns, "invocation_id"
	}
	newRow := newRowBuilder(cols)
	return func(ctx context.Context, filters []Equality, emit func(Row) bool) error {
		now := s.now().UnixMilli()
		services, filterService := Lookup(filters, "target_service_name")
		return s.scanInvocations(ctx, idColumn, filters, func(p *partition.Processor, id ids.InvocationID, st *partition.Status) bool {
			if filterService && !MatchesAny(String(st.Target.Service), services) {
				return true
			}
			b := newRow()
			b.set("partition_key", Uint(id.PartitionKey))
			switch view {
			case viewInbox:
				if st.Phase != partition.PhaseInboxed {
					return true
				}
				b.set("service_name", String(st.Target.Service))
				b.set("service_key", String(st.Target.Key))
				b.set("id", String(id.String()))
				b.set("sequence_number", Uint(st.InboxSeq))
				b.set("created_at", OptTimestamp(st.CreatedAt))
				return emit(b.row)
			case viewKeyedStatus:
				holdsLock := st.Target.Keyed() && st.Target.Exclusive() &&
					(st.Phase == partition.PhaseInvoked || st.Phase == partition.PhaseSuspended || st.Phase == partition.PhasePaused)
				if !holdsLock {
					return true
				}
				b.set("service_name", String(st.Target.Service))
				b.set("service_key", String(st.Target.Key))
				b.set("invocation_id", String(id.String()))
				return emit(b.row)
			case viewIdempotency:
				if st.IdempotencyKey == "" {
					return true
				}
				b.set("service_name", String(st.Target.Service))
				if st.Target.Keyed() {
					b.set("service_key", String(st.Target.Key))
				}
				b.set("service_handler", String(st.Target.Handler))
				b.set("idempotency_key", String(st.IdempotencyKey))
				b.set("invocation_id", String(id.String()))
				return emit(b.row)
			}
			b.set("id", String(id.String()))
			if view != viewState {
				s.fillStatus(b, st)
			}
			if view != viewStatus {
				s.fillState(b, p, id, st, now)
			}
			if view == viewInvocation {
				b.set("status", String(invocationStatus(st, now)))
			}
			return emit(b.row)
		})
	}
}

func serviceTy(t partition.ServiceType) string {
	switch t {
	case partition.ServiceVirtualObject:
		return "virtual_object"
	case partition.ServiceWorkflow:
		return "workflow"
	}
	return "service"
}

// rawStatus is sys_invocation_status.status.
func rawStatus(p partition.Phase) string {
	if p == partition.PhaseInvoked {
		return "invoked"
	}
	return p.String()
}

// invocationStatus is sys_invocation.status: inboxed shows as pending, and an invoked
// invocation is running unless it waits for its next retry.
func invocationStatus(st *partition.Status, now int64) string {
	switch st.Phase {
	case partition.PhaseInboxed:
		return "pending"
	case partition.PhaseInvoked:
		if st.RetryCount > 0 && st.NextRetryAt > now {
			return "backing-off"
		}
		return "running"
	}
	return st.Phase.String()
}

func formatFailure(f *partition.Failure) string {
	return "[" + strconv.FormatUint(uint64(f.Code), 10) + "] " + f.Message
}

func (s *engineSource) fillStatus(b *rowBuilder, st *partition.Status) {
	t := st.Target
	b.set("status", String(rawStatus(st.Phase)))
	b.set("target", String(t.String()))
	b.set("target_service_name", String(t.Service))
	if t.Keyed() {
		b.set("target_service_key", String(t.Key))
	}
	b.set("target_handler_name", String(t.Handler))
	b.set("target_service_ty", String(serviceTy(t.ServiceType)))
	b.set("idempotency_key", OptString(st.IdempotencyKey))
	b.set("invoked_by", String("ingress"))
	caller := st.InvokedBy
	if caller == (ids.InvocationID{}) && len(st.Sinks) > 0 && st.Sinks[0].Kind == partition.SinkInvocation && st.Sinks[0].NotifyType == uint16(wire.TypeCallCompletion) {
		caller = st.Sinks[0].Caller // a status written before InvokedBy existed
	}
	if caller != (ids.InvocationID{}) {
		b.set("invoked_by", String("service"))
		b.set("invoked_by_id", String(caller.String()))
		if p := s.find(s.held, caller.PartitionKey); p != nil {
			if cst, err := p.ReadStatus(caller); err == nil && cst != nil {
				b.set("invoked_by_service_name", String(cst.Target.Service))
				b.set("invoked_by_target", String(cst.Target.String()))
			}
		}
	}
	if st.Phase != partition.PhaseInboxed && st.Phase != partition.PhaseScheduled {
		b.set("journal_size", Uint32(st.JournalLen))
		b.set("journal_commands_size", Uint32(st.CommandsLen))
	}
	b.set("created_at", OptTimestamp(st.CreatedAt))
	b.set("modified_at", OptTimestamp(st.ModifiedAt))
	if st.Phase == partition.PhaseInboxed {
		b.set("inboxed_at", OptTimestamp(st.CreatedAt))
	}
	if st.ExecuteAt > 0 {
		b.set("scheduled_at", OptTimestamp(st.CreatedAt))
		b.set("scheduled_start_at", Timestamp(st.ExecuteAt))
	}
	b.set("running_at", OptTimestamp(st.RunningAt))
	b.set("completed_at", OptTimestamp(st.CompletedAt))
	b.set("completion_retention", Duration(time.Duration(st.Retention)*time.Millisecond))
	if st.Phase == partition.PhaseCompleted && st.Result != nil {
		if st.Result.Failure != nil {
			b.set("completion_result", String("failure"))
			b.set("completion_failure", String(formatFailure(st.Result.Failure)))
		} else {
			b.set("completion_result", String("success"))
		}
	}
}

func (s *engineSource) fillState(b *rowBuilder, p *partition.Processor, id ids.InvocationID, st *partition.Status, now int64) {
	switch st.Phase {
	case partition.PhaseInvoked, partition.PhaseSuspended, partition.PhasePaused:
	default:
		return
	}
	running := st.Phase == partition.PhaseInvoked
	b.set("in_flight", Bool(running && invocationStatus(st, now) == "running"))
	b.set("retry_count", Uint(uint64(st.RetryCount)))
	b.set("last_start_at", OptTimestamp(st.RunningAt))
	if running && st.NextRetryAt > now {
		b.set("next_retry_at", Timestamp(st.NextRetryAt))
	}
	if st.LastFailure == nil {
		return
	}
	b.set("last_failure", String(formatFailure(st.LastFailure)))
	b.set("last_failure_error_code", String(strconv.FormatUint(uint64(st.LastFailure.Code), 10)))
	if st.LastFailureEntry == 0 {
		return
	}
	// The failure names a command by its command index; find its journal entry.
	b.set("last_failure_related_command_index", Uint(uint64(st.LastFailureEntry)))
	journal, err := p.ReadJournal(id)
	if err != nil {
		return
	}
	cmd := uint32(0)
	for i, e := range journal {
		t := wire.MessageType(e.Type)
		if !t.IsCommand() {
			continue
		}
		if cmd == st.LastFailureEntry {
			name := commandName(t, e.Payload)
			b.set("last_failure_related_entry_index", Uint(uint64(i)))
			b.set("last_failure_related_entry_type", String(entryTypeName(t)))
			b.set("last_failure_related_entry_name", OptString(name))
			b.set("last_failure_related_command_type", String(t.String()))
			b.set("last_failure_related_command_name", OptString(name))
			return
		}
		cmd++
	}
}

// entryTypeName names a journal entry type as Restate's sys_journal does for journal v2,
// e.g. "Command: Run" or "Notification: Call".
func entryTypeName(t wire.MessageType) string {
	switch {
	case t.IsCommand():
		return "Command: " + t.String()
	case t == wire.TypeSignalNotification:
		return "Notification: Signal"
	case t.IsNotification():
		name := t.String()
		if n := len(name) - len("Completion"); n > 0 && name[n:] == "Completion" {
			name = name[:n]
		}
		return "Notification: " + name
	}
	return t.String()
}

// commandName decodes the user-given name of a command entry ("" when none or unreadable).
func commandName(t wire.MessageType, payload []byte) string {
	c, err := wire.DecodeCommand(t, payload)
	if err != nil || c == nil {
		return ""
	}
	return c.CommandName()
}

func (s *engineSource) journalRows(ctx context.Context, filters []Equality, emit func(Row) bool) error {
	newRow := newRowBuilder(sysJournalColumns)
	return s.scanInvocations(ctx, "id", filters, func(p *partition.Processor, id ids.InvocationID, st *partition.Status) bool {
		journal, err := p.ReadJournal(id)
		if err != nil {
			return true // the journal is gone (purged) or unreadable: no rows for it
		}
		for i, e := range journal {
			t := wire.MessageType(e.Type)
			b := newRow()
			b.set("partition_key", Uint(id.PartitionKey))
			b.set("id", String(id.String()))
			b.set("index", Uint32(uint32(i)))
			b.set("entry_type", String(entryTypeName(t)))
			if t.IsCommand() {
				b.set("name", OptString(commandName(t, e.Payload)))
			}
			b.set("raw", Bytes(e.Payload))
			b.set("version", Uint32(2))
			if !emit(b.row) {
				return false
			}
		}
		return true
	})
}

func (s *engineSource) stateRows(ctx context.Context, filters []Equality, emit func(Row) bool) error {
	newRow := newRowBuilder(stateColumns)
	services, byService := Lookup(filters, "service_name")
	keys, byKey := Lookup(filters, "service_key")
	row := func(service, key string, name, value []byte) Row {
		b := newRow()
		b.set("partition_key", Uint(ids.PartitionKeyForKey(key)))
		b.set("service_name", String(service))
		b.set("service_key", String(key))
		b.set("key", String(string(name)))
		if utf8.Valid(value) {
			b.set("value_utf8", String(string(value)))
		}
		b.set("value", Bytes(value))
		return b.row
	}
	if byService && byKey {
		// Point reads: an object's state lives on the partition of its key.
		for _, sv := range services {
			for _, kv := range keys {
				if sv.Type() != TypeString || kv.Type() != TypeString {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				p := s.procFor(ids.PartitionKeyForKey(kv.Str()))
				if p == nil {
					continue
				}
				entries, err := p.ReadState(sv.Str(), kv.Str())
				if err != nil {
					return fmt.Errorf("reading state of %s/%s: %w", sv.Str(), kv.Str(), err)
				}
				for _, e := range entries {
					if !emit(row(sv.Str(), kv.Str(), e.Key, e.Value)) {
						return nil
					}
				}
			}
		}
		return nil
	}
	for _, p := range s.procs {
		stopped := false
		err := p.ScanState(func(service, key string, name, value []byte) bool {
			if byService && !MatchesAny(String(service), services) || byKey && !MatchesAny(String(key), keys) {
				return true
			}
			if ctx.Err() != nil || !emit(row(service, key, name, value)) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("scanning state of partition %d: %w", p.ID(), err)
		}
		if stopped {
			return ctx.Err()
		}
	}
	return nil
}

func schemaServiceTy(t schema.ServiceType) string {
	switch t {
	case schema.ServiceTypeVirtualObject:
		return "virtual_object"
	case schema.ServiceTypeWorkflow:
		return "workflow"
	}
	return "service"
}

func serviceRows(snapshot func() *schema.Snapshot) func(context.Context, []Equality, func(Row) bool) error {
	return func(ctx context.Context, _ []Equality, emit func(Row) bool) error {
		snap := snapshot()
		if snap == nil {
			return nil
		}
		for _, svc := range snap.Services() {
			if !emit(Row{String(svc.Name), Uint(uint64(svc.Revision)), Bool(svc.Public), String(schemaServiceTy(svc.Ty)), OptString(svc.DeploymentID)}) {
				return nil
			}
		}
		return nil
	}
}

func deploymentRows(snapshot func() *schema.Snapshot) func(context.Context, []Equality, func(Row) bool) error {
	return func(ctx context.Context, _ []Equality, emit func(Row) bool) error {
		snap := snapshot()
		if snap == nil {
			return nil
		}
		for _, d := range snap.Deployments() {
			created := Null
			if !d.CreatedAt.IsZero() {
				created = Timestamp(d.CreatedAt.UnixMilli())
			}
			// The endpoint is shown without its user info (credentials).
			if !emit(Row{String(d.ID), String("http"), String(redact.URI(d.URI)), created,
				Uint32(uint32(d.MinProtocolVersion)), Uint32(uint32(d.MaxProtocolVersion))}) {
				return nil
			}
		}
		return nil
	}
}

package metrics

import "testing"

// The per-record costs the instrumentation adds to the hot paths.
func BenchmarkSummaryObserve(b *testing.B) {
	s := PartitionApplyCommand.WithLabelValues("Bench", LeaderYes)
	for i := 0; i < b.N; i++ {
		s.Observe(float64(i%1000) * 1e-6)
	}
}

func BenchmarkSummaryObserveLabelLookup(b *testing.B) {
	for i := 0; i < b.N; i++ {
		PartitionApplyCommand.WithLabelValues("Bench", LeaderYes).Observe(float64(i%1000) * 1e-6)
	}
}

func BenchmarkCounterIncLabelLookup(b *testing.B) {
	for i := 0; i < b.N; i++ {
		InvokerTasks.WithLabelValues(TaskStarted, "7", "").Inc()
	}
}

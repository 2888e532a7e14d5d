package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of the tick counters in /proc. Linux fixes USER_HZ at
// 100 on every architecture Go supports, and reading it via sysconf would
// need cgo.
const userHZ = 100

// parseProcessCPUTicks returns utime+stime (fields 14 and 15) from the
// contents of /proc/<pid>/stat. The command name (field 2) is in parentheses
// and may itself contain spaces and parentheses, so fields are counted from
// the last ')'.
func parseProcessCPUTicks(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("process stat has no ')' closing the command name")
	}
	// After ") " come field 3 (state) onwards; utime is field 14, stime 15.
	rest := bytes.Fields(stat[end+1:])
	const utimeIdx, stimeIdx = 14 - 3, 15 - 3
	if len(rest) <= stimeIdx {
		return 0, fmt.Errorf("process stat has %d fields after the command name, need at least %d", len(rest), stimeIdx+1)
	}
	utime, err := strconv.ParseUint(string(rest[utimeIdx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("process stat utime %q: %w", rest[utimeIdx], err)
	}
	stime, err := strconv.ParseUint(string(rest[stimeIdx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("process stat stime %q: %w", rest[stimeIdx], err)
	}
	if utime > ^uint64(0)-stime {
		return 0, fmt.Errorf("process stat utime %d + stime %d overflows", utime, stime)
	}
	return utime + stime, nil
}

// processesCPU sums the CPU time of the given processes (all their threads).
func processesCPU(pids []int) (time.Duration, error) {
	var ticks uint64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, fmt.Errorf("reading CPU time of server pid %d: %w", pid, err)
		}
		t, err := parseProcessCPUTicks(stat)
		if err != nil {
			return 0, fmt.Errorf("server pid %d: %w", pid, err)
		}
		ticks += t
	}
	return ticksToDuration(ticks), nil
}

func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * (time.Second / userHZ)
}

// hostCPU is the machine-wide tick counters from the "cpu" line of /proc/stat.
type hostCPU struct {
	busy, total uint64
}

// parseHostCPU reads the aggregate "cpu" line of /proc/stat. Idle and iowait
// count as not busy; everything else (user, nice, system, irq, softirq,
// steal) is busy. guest time is already included in user, so it is skipped.
func parseHostCPU(stat []byte) (hostCPU, error) {
	line := stat
	if i := bytes.IndexByte(stat, '\n'); i >= 0 {
		line = stat[:i]
	}
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return hostCPU{}, fmt.Errorf("/proc/stat does not start with an aggregate cpu line: %q", line)
	}
	var h hostCPU
	for i, col := range f[1:] {
		if i >= 8 { // guest, guest_nice: already part of user/nice
			break
		}
		v, err := strconv.ParseUint(string(col), 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("/proc/stat cpu column %d %q: %w", i+1, col, err)
		}
		if h.total > ^uint64(0)-v {
			return hostCPU{}, fmt.Errorf("/proc/stat cpu columns overflow")
		}
		h.total += v
		if i != 3 && i != 4 { // idle, iowait
			h.busy += v
		}
	}
	return h, nil
}

func readHostCPU() (hostCPU, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, fmt.Errorf("reading host CPU counters: %w", err)
	}
	return parseHostCPU(stat)
}

// selfCPU is the benchmark process's own CPU time, which includes the
// embedded bench services when -register is used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

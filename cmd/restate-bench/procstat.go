package main

import (
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// procFS reads CPU counters through prometheus/procfs, which knows the
// layout of /proc/<pid>/stat (a command name that may hold spaces and
// parentheses) and /proc/stat (USER_HZ ticks turned into seconds). Tests
// point it at a directory of fake files.
type procFS struct {
	fs    procfs.FS
	mount string
}

func newProcFS(mount string) (procFS, error) {
	fs, err := procfs.NewFS(mount)
	if err != nil {
		return procFS{}, fmt.Errorf("opening %s: %w", mount, err)
	}
	return procFS{fs: fs, mount: mount}, nil
}

// defaultProc is the machine's /proc; an error opening it is reported when it is read.
var defaultProc, defaultProcErr = newProcFS(procfs.DefaultMountPoint)

// processesCPU sums the CPU time (user and system, all threads) of the
// given processes.
func (p procFS) processesCPU(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		proc, err := p.fs.Proc(pid)
		if err != nil {
			return 0, fmt.Errorf("reading CPU time of server pid %d: %w", pid, err)
		}
		st, err := proc.Stat()
		if err != nil {
			return 0, fmt.Errorf("reading CPU time of server pid %d: %w", pid, err)
		}
		total += seconds(st.CPUTime())
	}
	return total, nil
}

func processesCPU(pids []int) (time.Duration, error) {
	if defaultProcErr != nil {
		return 0, defaultProcErr
	}
	return defaultProc.processesCPU(pids)
}

// hostCPU is the machine-wide CPU time since boot, summed over all cores.
type hostCPU struct {
	busy, total time.Duration
}

// hostCPU reads the aggregate "cpu" line of /proc/stat. Idle and iowait
// count as not busy; everything else (user, nice, system, irq, softirq,
// steal) is busy. Guest time is already included in user, so it is skipped.
func (p procFS) hostCPU() (hostCPU, error) {
	st, err := p.fs.Stat()
	if err != nil {
		return hostCPU{}, fmt.Errorf("reading host CPU counters: %w", err)
	}
	c := st.CPUTotal
	busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	total := busy + c.Idle + c.Iowait
	if total <= 0 {
		return hostCPU{}, fmt.Errorf("reading host CPU counters: %s/stat has no aggregate cpu line", p.mount)
	}
	return hostCPU{busy: seconds(busy), total: seconds(total)}, nil
}

func readHostCPU() (hostCPU, error) {
	if defaultProcErr != nil {
		return hostCPU{}, defaultProcErr
	}
	return defaultProc.hostCPU()
}

// seconds turns procfs's float seconds into a Duration, rounded to the
// microsecond so that whole ticks stay exact.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
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

package profile

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ReadConditions reads what the OS exposes of the machine's state: the CPU
// frequency governor and current frequency, the thermal zones' temperatures
// and the load average (on Linux; elsewhere what it can).
func ReadConditions() Conditions {
	c := Conditions{CPUs: runtime.NumCPU(), Source: "edgeprune"}
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"); err == nil {
		c.Governor = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"); err == nil {
		if khz, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			c.MHz = khz / 1000
		}
	} else if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
				c.MHz, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
				break
			}
		}
	}
	zones, _ := filepath.Glob("/sys/class/thermal/thermal_zone*/temp")
	for _, z := range zones {
		if b, err := os.ReadFile(z); err == nil {
			if mc, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
				c.TempC = append(c.TempC, mc/1000)
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		for i := 0; i < 3 && i < len(f); i++ {
			x, _ := strconv.ParseFloat(f[i], 64)
			c.LoadAvg = append(c.LoadAvg, x)
		}
	}
	return c
}

// ReadRSSMB returns the process's resident set (VmRSS in /proc/self/status)
// in MB, 0 where the OS does not tell.
func ReadRSSMB() float64 { return procStatusMB("VmRSS:") }

// ReadPeakRSSMB returns the process's peak resident set since it started
// (VmHWM), in MB, 0 where the OS does not tell.
func ReadPeakRSSMB() float64 { return procStatusMB("VmHWM:") }

func procStatusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb * 1024 / MB
			}
		}
	}
	return 0
}

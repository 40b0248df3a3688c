# SPDX-License-Identifier: MIT
#
# tools/bench/goals.awk: the goals of "fast by default" (sublk against
# kublk, the default data path, mem, daemon CPU, memory, add to LIVE) and
# of the NBD target (sublk nbd against the kernel's client), one line each:
#
#	goal<TAB>measured<TAB>target<TAB>met|not met|not measured
#
#	awk -v loop_default=PATH -v loop_zc=PATH -v null_default=PATH \
#		-v add_sublk=MS -v add_kublk=MS \
#		-f goals.awk summary.tsv raw/cpu.tsv raw/rss.tsv
#
# loop_default and loop_zc: the data path `sublk list` named for a default
# `sublk add -t loop` and for the -z device (meta.env); when they are the
# same, the -z device is sublk's default.  kublk's default is its copy
# path.  null_default: the path of sublk-null, null's default (recorded
# for the report; that device is the default whatever it is).  add_sublk,
# add_kublk: median add-to-LIVE times.

BEGIN { FS = "\t" }
# which file: by its header (summary.tsv, cpu.tsv, rss.tsv)
FNR == 1 {
	kind = $1 == "round" ? "cpu" : $1 == "device" ? "rss" : "summary"
	if (kind == "summary")
		for (i = 1; i <= NF; i++) c[$i] = i
	next
}
kind == "summary" {
	s[$1, $2, "iops"] = $c["iops_median"]
	s[$1, $2, "peer"] = $c["peer_ratio_median"]
	s[$1, $2, "base"] = $c["ratio_median"]
	if (!($1 in seenw)) { seenw[$1] = 1; wo[++nw] = $1 }
	next
}
# fio's I/Os (a disk may cut one in pieces); old raw data: the requests
kind == "cpu" { req[$2, $3] += ($8 != "" ? $8 : $5); ns[$2, $3] += $7; next }
kind == "rss" { rss[$1, $3] = $4; if ($5 + 0 > hwm[$1] + 0) hwm[$1] = $5 }

function kio(x) { return x >= 10000 ? sprintf("%.1fk", x / 1000) : sprintf("%.0f", x) }
function line(what, got, target, ok) {
	printf "%s\t%s\t%s\t%s\n", what, got, target, ok ? "met" : "not met"
}
function none(what, target) { printf "%s\tnot measured\t%s\tnot measured\n", what, target }

# same_mode(d, what): sublk over kublk, the lowest over every workload.
function same_mode(d, what,    a, r, lo, low, n) {
	for (a = 1; a <= nw; a++) {
		r = s[wo[a], d, "peer"]
		if (r == "") continue
		n++
		if (lo == "" || r + 0 < lo + 0) { lo = r; low = wo[a] }
	}
	if (!n)
		none("sublk / kublk, " what ", every workload", ">= 1.00")
	else
		line("sublk / kublk, " what ", every workload (" n ")",
		     sprintf("lowest %.3f (%s)", lo, low), ">= 1.00", lo >= 1.0)
}

# ratio(w, a, b): IOPS of device a over device b at workload w, "" if not both.
function ratio(w, a, b) {
	if (s[w, a, "iops"] == "" || s[w, b, "iops"] == "" || s[w, b, "iops"] == 0)
		return ""
	return s[w, a, "iops"] / s[w, b, "iops"]
}

function ratio_goal(what, w, a, b, min,    r) {
	r = ratio(w, a, b)
	if (r == "")
		none(what, ">= " sprintf("%.2f", min))
	else
		line(what, sprintf("%.2f (IOPS %s vs %s)", r, kio(s[w, a, "iops"]), kio(s[w, b, "iops"])),
		     ">= " sprintf("%.2f", min), r >= min)
}

# cpu(w, d): daemon run time per fio I/O in us, "" if not measured.
function cpu(w, d) { return req[w, d] ? ns[w, d] / 1e3 / req[w, d] : "" }

# cpu_goal(w, a, b, what, max): daemon a's CPU per request over b's at
# w, at most max; max "" only reports it (met when not above 1.00).
function cpu_goal(w, a, b, what, max,    x, y, t) {
	x = cpu(w, a); y = cpu(w, b)
	t = max == "" ? "reported (same mode)" : "<= " sprintf("%.2f", max) " x kublk"
	if (x == "" || y == "")
		none("daemon CPU per request, " what ", " w, t)
	else
		line("daemon CPU per request, " what ", " w,
		     sprintf("%.2f x (%.2f vs %.2f us)", x / y, x, y), t,
		     x / y <= (max == "" ? 1.0 : max))
}

function mem_goal(what, a, b, when,    x, y) {
	x = (when == "peak") ? hwm[a] : rss[a, when]
	y = (when == "peak") ? hwm[b] : rss[b, when]
	if (x == "" || y == "")
		none(what, "smaller than kublk")
	else
		line(what, sprintf("%d KiB vs kublk %d KiB", x, y), "smaller than kublk", x + 0 < y + 0)
}

END {
	same_mode("sublk-null-q1", "null, copy")
	same_mode("sublk-null-zc", "null, zero copy")
	same_mode("sublk-loop-nullb", "loop over null_blk, copy")
	same_mode("sublk-loop-nullb-zc", "loop over null_blk, zero copy")
	same_mode("sublk-loop-tmpfs", "loop over tmpfs")

	# default against default: sublk's pick, kublk's copy path
	if (loop_default != "" && loop_default == loop_zc) {
		split("randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32", w4, " ")
		for (i = 1; i <= 4; i++)
			ratio_goal("default loop / kublk default loop, " w4[i], w4[i],
				   "sublk-loop-nullb-zc", "kublk-loop-nullb", 1.0)
		ratio_goal("default loop / kublk default loop, read-512k-qd32", "read-512k-qd32",
			   "sublk-loop-nullb-zc", "kublk-loop-nullb", 3.5)
		# reads: 2x ublksrv's default as measured for the goal, 3.5x
		# kublk's; writes: 2x the one peer measured here
		ratio_goal("default loop / kublk default loop, write-512k-qd32", "write-512k-qd32",
			   "sublk-loop-nullb-zc", "kublk-loop-nullb", 2.0)
	} else {
		none("default loop / kublk default loop (the default path: " \
		     (loop_default == "" ? "not recorded" : loop_default) ")", ">= 1.00 at 4k, >= 3.5 / 2.0 at 512k read / write")
	}

	# mem in one copy against the two of its copy path; brd reported
	split("read-64k-qd32 write-64k-qd32 read-512k-qd32 write-512k-qd32", wm, " ")
	for (i = 1; i <= 4; i++) {
		r = ratio(wm[i], "sublk-mem", "brd")
		ratio_goal("mem / mem --copy (two copies), " wm[i] \
			   (r == "" ? "" : sprintf("; mem / brd %.2f", r)), wm[i],
			   "sublk-mem", "sublk-mem-copy", 1.3)
	}

	# what each costs as a user gets it (sublk's pick, kublk's copy
	# path), and in the same mode for reference
	split("randread-4k-qd32 randwrite-4k-qd32", wc, " ")
	for (i = 1; i <= 2; i++)
		cpu_goal(wc[i], "sublk-null", "kublk-null", "null, default vs default (" \
			 (null_default == "" ? "path not recorded" : null_default) " vs copy)", 0.8)
	if (loop_default != "" && loop_default == loop_zc)
		for (i = 1; i <= 2; i++)
			cpu_goal(wc[i], "sublk-loop-nullb-zc", "kublk-loop-nullb",
				 "loop, default vs default (" loop_default " vs copy)", 0.8)
	else
		none("daemon CPU per request, loop, default vs default (the default path: " \
		     (loop_default == "" ? "not recorded" : loop_default) ")", "<= 0.80 x kublk")
	for (i = 1; i <= 2; i++) {
		cpu_goal(wc[i], "sublk-null-q1", "kublk-null", "null, copy vs copy", "")
		cpu_goal(wc[i], "sublk-loop-nullb", "kublk-loop-nullb", "loop, copy vs copy", "")
		cpu_goal(wc[i], "sublk-loop-nullb-zc", "kublk-loop-nullb-zc", "loop, zero copy vs zero copy", "")
	}

	# each server as a user gets it, then loop in the same (copy) mode
	mem_goal("RSS after add, null", "sublk-null", "kublk-null", "after-add")
	mem_goal("peak RSS, null", "sublk-null", "kublk-null", "peak")
	if (loop_default != "" && loop_default == loop_zc) {
		mem_goal("RSS after add, loop, default vs default", "sublk-loop-nullb-zc", "kublk-loop-nullb", "after-add")
		mem_goal("peak RSS, loop, default vs default", "sublk-loop-nullb-zc", "kublk-loop-nullb", "peak")
	}
	mem_goal("RSS after add, loop, copy vs copy", "sublk-loop-nullb", "kublk-loop-nullb", "after-add")
	mem_goal("peak RSS, loop, copy vs copy", "sublk-loop-nullb", "kublk-loop-nullb", "peak")
	if (add_sublk == "" || add_kublk == "")
		none("add to LIVE, median", "shorter than kublk")
	else
		line("add to LIVE, median", sprintf("%.1f ms vs kublk %.1f ms", add_sublk, add_kublk),
		     "shorter than kublk", add_sublk + 0 < add_kublk + 0)

	# NBD: sublk against the kernel's client, on the copy path and in
	# zero copy (add's pick where the driver has zero copy)
	split("sublk-nbd sublk-nbd-zc", nd, " ")
	split("copy|zero copy", nn, "|")
	for (i = 1; i <= 2; i++) {
		ratio_goal("sublk nbd " nn[i] " / kernel nbd, randread-4k-qd1", "randread-4k-qd1", nd[i], "knbd", 1.0)
		ratio_goal("sublk nbd " nn[i] " / kernel nbd, randwrite-4k-qd1", "randwrite-4k-qd1", nd[i], "knbd", 1.0)
		ratio_goal("sublk nbd " nn[i] " / kernel nbd, randread-4k-qd32", "randread-4k-qd32", nd[i], "knbd", 1.15)
		ratio_goal("sublk nbd " nn[i] " / kernel nbd, randwrite-4k-qd32", "randwrite-4k-qd32", nd[i], "knbd", 1.15)
		ratio_goal("sublk nbd " nn[i] " / kernel nbd, read-64k-qd32", "read-64k-qd32", nd[i], "knbd", 1.15)
	}
}

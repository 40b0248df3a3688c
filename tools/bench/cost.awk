# SPDX-License-Identifier: MIT
#
# tools/bench/cost.awk: the "where the cost goes" section of report.md,
# from what was measured: latency at depth 1, context switches, syscalls
# and daemon CPU time per request, instructions per request when busy.
#
#	awk -v null_missed=N -v loop_missed=N -f cost.awk summary.tsv syscalls.tsv

BEGIN { FS = "\t" }

FNR == 1 && FILENAME ~ /summary\.tsv$/ { for (i = 1; i <= NF; i++) c[$i] = i; next }
FILENAME ~ /summary\.tsv$/ {
	for (i in c)
		s[$1, $2, i] = $c[i]
	next
}
# syscalls.tsv: device workload method window_s requests syscalls
# io_uring_enter daemon_cpu_us daemon_ctxsw ipis placement.  Windows with
# fio and the queue threads placed on CPUs go to the p* arrays, keyed by
# placement too; the others (placement any) to the plain ones.
FNR == 1 { next }
$5 > 0 && $4 > 0 && ($3 == "tracefs" || $3 == "none") && NF >= 11 {
	pl = $11
	pw[$1, $2, pl] = 1
	piops[$1, $2, pl] = $5 / $4
	pipi[$1, $2, pl] = $10 / $5
	pcpu[$1, $2, pl] = $8 / $5
	if (pl != "any")
		next
}
($3 == "tracefs" || $3 == "none") && $5 > 0 && NF >= 10 { ipi[$1, $2] = $10 / $5 }
$3 == "tracefs" && $5 > 0 {
	sc[$1, $2] = 1
	calls[$1, $2] = $6 / $5
	enters[$1, $2] = $7 / $5
	batch[$1, $2] = $7 > 0 ? $5 / $7 : 0
	cpu[$1, $2] = $8 / $5
	cs[$1, $2] = $9 / $5
}

function get(w, d, col) { return ((w, d, col) in s) ? s[w, d, col] : "" }
function have(w, d) { return get(w, d, "iops_median") != "" }

# Under -icount a guest second is 10^9 instructions, whichever vCPU runs
# them: a saturated device's cost per request is 10^9 / IOPS.
function insns(w, d) { return 1e9 / get(w, d, "iops_median") }

# daemon(d, w): the daemon's bill per request in a tracefs window.
function daemon(d, w) {
	if (!((d, w) in sc))
		return ""
	return sprintf("the daemon makes %.2f syscalls per request (%.2f io_uring_enter, %.1f requests per call), switches context %.2f times and runs %.1f us",
		calls[d, w], enters[d, w], batch[d, w], cs[d, w], cpu[d, w])
}

# depth1(w, base, dev, label)
function depth1(w, b, d, label,    l0, l1, x0, x1, t) {
	if (!have(w, b) || !have(w, d))
		return
	l0 = get(w, b, "lat_mean_us_median")
	l1 = get(w, d, "lat_mean_us_median")
	x0 = get(w, b, "ctx_per_io_median")
	x1 = get(w, d, "ctx_per_io_median")
	printf "- **%s, %s**: a request takes %.1f us on %s and %.1f us on %s (fio's total latency, mean): %.1f us more, about %.0f thousand guest instructions. fio switches context %.2f times per request on %s and %.2f on %s",
		label, w, l0, b, l1, d, l1 - l0, l1 - l0, x0, b, x1, d
	if (x0 < 0.1 && x1 > 0.5)
		printf " (it sleeps until the daemon's answer wakes it, where %s answers inside the submit call)", b
	t = daemon(d, w)
	if (t != "")
		printf "; %s per request", t
	if ((b, w) in ipi && (d, w) in ipi)
		printf ". A CPU woke the other %.2f times per request (IPIs) with %s, %.2f with %s", ipi[b, w], b, ipi[d, w], d
	printf ".\n"
}

# busy(w, base, dev, label): the cost per request of a device kept busy.
function busy(w, b, d, label,    t) {
	if (!have(w, b) || !have(w, d))
		return
	printf "- **%s, %s**: %s does %.1fk IOPS, %s %.1fk: %.0f guest instructions per request against %.0f, %.0f more",
		label, w, b, get(w, b, "iops_median") / 1000, d, get(w, d, "iops_median") / 1000,
		insns(w, d), insns(w, b), insns(w, d) - insns(w, b)
	# fio's CPU shares are of its run time: times the guest time per
	# request, they are its time per request.
	printf ". fio itself runs %.1f us in the kernel and %.1f us in user space per request on %s, %.1f and %.1f on %s",
		get(w, b, "sys_cpu_median") / 100 * insns(w, b) / 1000,
		get(w, b, "usr_cpu_median") / 100 * insns(w, b) / 1000, b,
		get(w, d, "sys_cpu_median") / 100 * insns(w, d) / 1000,
		get(w, d, "usr_cpu_median") / 100 * insns(w, d) / 1000, d
	if (get(w, d, "sys_cpu_median") / 100 * insns(w, d) > get(w, b, "sys_cpu_median") / 100 * insns(w, b) * 1.3)
		printf " (its submit and completion calls carry the ublk driver's part: handing each request to the daemon and ending it when the daemon commits)"
	t = daemon(d, w)
	if (t != "")
		printf "; %s per request", t
	printf ".\n"
}

# placed(d, w, label): the same window with the threads left to the
# scheduler, on one CPU, and on two.
function placed(d, w, label, b,    n, i, p, pl, bi) {
	if (!((d, w, "same") in pw))
		return
	printf "- **%s, %s, where the threads run**:", label, w
	n = split("any same cross", pl, " ")
	for (i = 1; i <= n; i++) {
		p = pl[i]
		if (!((d, w, p) in pw))
			continue
		printf "%s %s %.1fk IOPS, %.2f IPIs and %.1f us of daemon CPU per request",
			(i > 1 ? ";" : ""), p, piops[d, w, p] / 1000, pipi[d, w, p], pcpu[d, w, p]
	}
	printf " (any: the scheduler's choice; same: fio and the queue thread on one CPU; cross: on two)"
	# The kernel device with fio on CPU 1 too, else its figure from the
	# matrix (null_blk answers in fio's own context, wherever it runs).
	bi = (b, w, "same") in pw ? piops[b, w, "same"] : get(w, b, "iops_median")
	if (bi > 0)
		printf ". %s does %.1fk IOPS %s: with both threads on one CPU the ratio would be %.2f instead of %.2f",
			b, bi / 1000, ((b, w, "same") in pw ? "with fio on CPU 1" : "in the matrix"),
			piops[d, w, "same"] / bi, get(w, d, "ratio_median")
	printf ".\n"
}

# big(w, base, copy, zc, label): large requests, where the copy between
# the request's pages and the daemon's buffer dominates.
function big(w, b, c, z, label) {
	if (!have(w, b) || !have(w, c) || !have(w, z))
		return
	printf "- **%s, %s**: %.2f of %s's IOPS copying, %.2f in zero copy: %.0f against %.0f guest instructions per request, so copying 512 KiB costs about %.0f thousand instructions per request under TCG.\n",
		label, w, get(w, c, "ratio_median"), b, get(w, z, "ratio_median"),
		insns(w, c), insns(w, z), (insns(w, c) - insns(w, z)) / 1000
}

# zero_copy(w): the zero copy loop against the copying one.
function zero_copy(w,    z, c) {
	z = "sublk-loop-nullb-zc"
	c = "sublk-loop-nullb"
	if (!have(w, z) || !have(w, c))
		return
	printf "- **sublk loop zero copy, %s**: %.1fk IOPS against %.1fk copying (kernel loop %.1fk)",
		w, get(w, z, "iops_median") / 1000, get(w, c, "iops_median") / 1000,
		get(w, "kloop-nullb", "iops_median") / 1000
	if ((z, w) in sc && (c, w) in sc)
		printf "; the daemon runs %.1f us per request against %.1f and makes %.2f syscalls per request against %.2f",
			cpu[z, w], cpu[c, w], calls[z, w], calls[c, w]
	printf ": a 4 KiB copy is a small part of a request's cost.\n"
}

END {
	print "Under `-icount` a guest microsecond is a thousand executed instructions"
	print "(both vCPUs together), so latency at depth 1 and 1/IOPS of a device kept"
	print "busy measure work done. The daemon's figures come from the tracefs windows"
	print "(see Syscalls per request); its CPU time counts the kernel work it does in its"
	print "own context (io_uring_enter, the ublk driver's command handling) too."
	print ""
	if (null_missed > 0) {
		depth1("randread-4k-qd1", "nullb", "sublk-null-q1", "sublk null")
		busy("randread-4k-qd32", "nullb", "sublk-null-q1", "sublk null")
		busy("randread-4k-qd128", "nullb", "sublk-null-q1", "sublk null")
		if (have("randread-4k-qd1", "sublk-null-q2")) {
			printf "- **2 queues**: sublk null with 2 queues does %.1fk IOPS at qd1 and %.1fk at qd32 with a single fio job, against %.1fk and %.1fk with 1 queue: no more instructions per second (both vCPUs share one host thread), so less work per request. A 2-queue device has a queue thread pinned to each CPU and blk-mq hands a request to the queue of the CPU that issued it, so the daemon can answer on fio's own CPU, as the 1-queue device does when both are pinned there (below)",
				get("randread-4k-qd1", "sublk-null-q2", "iops_median") / 1000,
				get("randread-4k-qd32", "sublk-null-q2", "iops_median") / 1000,
				get("randread-4k-qd1", "sublk-null-q1", "iops_median") / 1000,
				get("randread-4k-qd32", "sublk-null-q1", "iops_median") / 1000
			if (("sublk-null-q2", "randread-4k-qd1", "any") in pw)
				printf ". It does not always happen: in its tracefs window the 2-queue device did %.1fk IOPS at qd1 with %.2f IPIs per request, so fio's requests were answered from the other CPU there",
					piops["sublk-null-q2", "randread-4k-qd1", "any"] / 1000,
					pipi["sublk-null-q2", "randread-4k-qd1", "any"]
			printf ".\n"
		}
		placed("sublk-null-q1", "randread-4k-qd1", "sublk null, 1 queue", "nullb")
		placed("sublk-null-q1", "randread-4k-qd32", "sublk null, 1 queue", "nullb")
		if (have("randread-4k-qd32", "sublk-null-zc"))
			printf "- Zero copy (null, 1 queue) does %.1fk IOPS at qd32 against %.1fk: the null target moves no data, so the copy mode is not where its cost lies.\n",
				get("randread-4k-qd32", "sublk-null-zc", "iops_median") / 1000,
				get("randread-4k-qd32", "sublk-null-q1", "iops_median") / 1000
	}
	big("read-512k-qd32", "nullb", "sublk-null-q1", "sublk-null-zc", "sublk null")
	big("read-512k-qd32", "kloop-nullb", "sublk-loop-nullb", "sublk-loop-nullb-zc", "sublk loop")
	big("write-512k-qd32", "kloop-nullb", "sublk-loop-nullb", "sublk-loop-nullb-zc", "sublk loop")
	if (loop_missed > 0) {
		depth1("randread-4k-qd1", "kloop-nullb", "sublk-loop-nullb", "sublk loop")
		depth1("randwrite-4k-qd1", "kloop-nullb", "sublk-loop-nullb", "sublk loop")
		busy("randread-4k-qd32", "kloop-nullb", "sublk-loop-nullb", "sublk loop")
		busy("randwrite-4k-qd128", "kloop-nullb", "sublk-loop-nullb", "sublk loop")
		placed("sublk-loop-nullb", "randread-4k-qd1", "sublk loop", "kloop-nullb")
		placed("sublk-loop-nullb", "randread-4k-qd32", "sublk loop", "kloop-nullb")
		zero_copy("randread-4k-qd1")
		zero_copy("randread-4k-qd32")
		if (("sublk-null-q1", "randread-4k-qd1") in sc && ("sublk-loop-nullb", "randread-4k-qd1") in sc)
			printf "- The loop daemon makes %.2f io_uring_enter per request at qd1 where the null daemon makes %.2f: the backing read is a second round trip through its ring; the kernel loop driver's never leaves the kernel.\n",
				enters["sublk-loop-nullb", "randread-4k-qd1"], enters["sublk-null-q1", "randread-4k-qd1"]
	}
}

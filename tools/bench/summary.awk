# SPDX-License-Identifier: MIT
#
# tools/bench/summary.awk: the figures of every (workload, device) over
# the rounds, from the guest's runs.tsv.
#
#	awk -f summary.awk raw/devices.tsv raw/runs.tsv
#
# prints a tab-separated table with a header line: for each figure its
# min, median and max over the rounds, and for a sublk device the ratio of
# its IOPS to its kernel counterpart's, taken round by round (the two ran
# in the same round) and summed up the same way; likewise the ratio to its
# peer, kublk's device of the same kind and data path (kublk's devices
# have the kernel ones as baseline too).  Rows come workload by
# workload in the order they ran, devices in devices.tsv's order.

BEGIN {
	FS = OFS = "\t"
	base["sublk-null"] = "nullb"
	base["sublk-null-q1"] = "nullb"
	base["sublk-null-q2"] = "nullb"
	base["sublk-null-zc"] = "nullb"
	base["sublk-null-batch"] = "nullb"
	base["sublk-null-plainring"] = "nullb"
	base["sublk-null-noringfd"] = "nullb"
	base["sublk-loop-nullb"] = "kloop-nullb"
	base["sublk-loop-nullb-zc"] = "kloop-nullb"
	base["sublk-loop-nullb-batch"] = "kloop-nullb"
	base["sublk-loop-tmpfs"] = "kloop-tmpfs"
	base["kublk-null"] = "nullb"
	base["kublk-null-zc"] = "nullb"
	base["kublk-loop-nullb"] = "kloop-nullb"
	base["kublk-loop-nullb-zc"] = "kloop-nullb"
	base["kublk-loop-tmpfs"] = "kloop-tmpfs"
	base["sublk-mem"] = "brd"
	base["sublk-nbd"] = "knbd"
	base["sublk-nbd-zc"] = "knbd"
	peer["sublk-null-q1"] = "kublk-null"
	peer["sublk-null-zc"] = "kublk-null-zc"
	peer["sublk-loop-nullb"] = "kublk-loop-nullb"
	peer["sublk-loop-nullb-zc"] = "kublk-loop-nullb-zc"
	peer["sublk-loop-tmpfs"] = "kublk-loop-tmpfs"
	nfig = split("iops bw_mib clat_mean_us clat_p99_us lat_mean_us lat_p99_us " \
		"ctx_per_io usr_cpu sys_cpu", fig, " ")
}

# sort_vals(a, n): insertion sort of a[1..n], numerically.
function sort_vals(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}

function median(a, n) {
	if (n % 2)
		return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

# stats(a, n): "min<TAB>median<TAB>max" of a[1..n], or three empty fields.
function stats(a, n) {
	if (n == 0)
		return "\t\t"
	sort_vals(a, n)
	return a[1] "\t" median(a, n) "\t" a[n]
}

# ratio(w, d, map): "counterpart<TAB>min<TAB>median<TAB>max" of d's IOPS
# over those of map[d], round by round.
function ratio(w, d, map,    bd, t, m, r) {
	bd = (d in map) ? map[d] : ""
	m = 0
	if (bd != "")
		for (r in rounds)
			if ((w, d, r) in iops && (w, bd, r) in iops && iops[w, bd, r] > 0)
				t[++m] = iops[w, d, r] / iops[w, bd, r]
	if (bd != "" && m == 0)
		bd = bd " (not run)"
	return bd OFS stats(t, m)
}

FNR == 1 { next }

FILENAME ~ /devices\.tsv$/ {
	devorder[++ndev] = $1
	next
}

# runs.tsv: round workload device rw bs iodepth numjobs iops bw_kib
# clat_mean_us clat_p99_us lat_mean_us lat_p99_us runtime_ms error
# total_ios ctx usr_cpu sys_cpu note
{
	w = $2; d = $3; r = $1
	if (!(w in seenw)) {
		seenw[w] = 1
		worder[++nw] = w
	}
	k = w SUBSEP d
	if (!(k in n))
		shape[k] = $4 OFS $5 OFS $6 OFS $7
	i = ++n[k]
	v[k, "iops", i] = $8
	v[k, "bw_mib", i] = $9 / 1024
	v[k, "clat_mean_us", i] = $10
	v[k, "clat_p99_us", i] = $11
	v[k, "lat_mean_us", i] = $12
	v[k, "lat_p99_us", i] = $13
	v[k, "ctx_per_io", i] = $16 > 0 ? $17 / $16 : 0
	v[k, "usr_cpu", i] = $18
	v[k, "sys_cpu", i] = $19
	if ($20 != "")
		notes[k] = notes[k] (notes[k] == "" ? "" : "; ") "round " r ": " $20
	iops[w, d, r] = $8
	rounds[r] = 1
}

END {
	printf "workload\tdevice\trw\tbs\tiodepth\tnumjobs\trounds"
	for (f = 1; f <= nfig; f++)
		printf "\t%s_min\t%s_median\t%s_max", fig[f], fig[f], fig[f]
	print "\tbaseline\tratio_min\tratio_median\tratio_max\tpeer\tpeer_ratio_min\tpeer_ratio_median\tpeer_ratio_max\tnote"
	for (a = 1; a <= nw; a++) {
		w = worder[a]
		for (b = 1; b <= ndev; b++) {
			d = devorder[b]
			k = w SUBSEP d
			if (!(k in n))
				continue
			line = w OFS d OFS shape[k] OFS n[k]
			for (f = 1; f <= nfig; f++) {
				delete t
				for (i = 1; i <= n[k]; i++)
					t[i] = v[k, fig[f], i]
				line = line OFS stats(t, n[k])
			}
			print line, ratio(w, d, base), ratio(w, d, peer), notes[k]
		}
	}
}

# SPDX-License-Identifier: MIT
#
# tools/bench/fio-json.awk: figures from fio's JSON output
# (--output-format=json with group_reporting).
#
#	awk -v dir=read -f fio-json.awk fio.json
#
# prints one tab-separated line per reporting group (a job, or the
# numjobs clones of one): jobname iops bw_kib clat_mean_us clat_p99_us
# lat_mean_us lat_p99_us runtime_ms error total_ios ctx usr_cpu sys_cpu,
# from its "read" or "write" side (dir).  Exits 1 when there is no job.
#
# fio prints one key per line, so a line-based reader is enough: each
# "key" : { or [ goes on a stack of names, each } or ] comes off it, and a
# scalar's name is the stack joined with dots (array members by index), as
# in jobs.0.read.clat_ns.percentile.99.000000.  Plain awk: mawk, busybox.

function push(name) { stack[++depth] = name; nidx[depth] = 0 }

function path(key,    p, i) {
	p = ""
	for (i = 1; i <= depth; i++)
		p = p stack[i] "."
	return p key
}

# A member of an array is named by its index.
function member(    name) {
	if (depth > 0 && stack[depth] ~ /\[$/) {
		name = nidx[depth]++
		return name
	}
	return ""
}

BEGIN { depth = 0; started = 0 }

# Warnings fio writes before the JSON.
!started && !/^[ \t]*\{/ { next }
{ started = 1 }

{
	line = $0
	sub(/^[ \t]+/, "", line)
	sub(/[ \t,]+$/, "", line)
}

line ~ /^"[^"]*"[ \t]*:[ \t]*[\[{]$/ {
	key = line
	sub(/^"/, "", key)
	sub(/"[ \t]*:.*$/, "", key)
	if (line ~ /\[$/)
		push(key "[")
	else
		push(key)
	next
}

line == "{" || line == "[" {
	key = member()
	if (depth == 0)
		key = ""
	push(key (line == "[" ? "[" : ""))
	next
}

line == "}" || line == "]" { depth--; next }

line ~ /^"[^"]*"[ \t]*:/ {
	key = line
	sub(/^"/, "", key)
	sub(/"[ \t]*:.*$/, "", key)
	val = line
	sub(/^"[^"]*"[ \t]*:[ \t]*/, "", val)
	gsub(/"/, "", val)
	p = path(key)
	gsub(/\[\./, ".", p)
	sub(/^\./, "", p)
	v[p] = val
}

END {
	for (n = 0; ("jobs." n ".jobname") in v; n++) {
		j = "jobs." n "."
		d = j dir "."
		printf "%s\t%.1f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%.2f\t%.2f\n",
			v[j "jobname"], v[d "iops"], v[d "bw"],
			v[d "clat_ns.mean"] / 1000,
			v[d "clat_ns.percentile.99.000000"] / 1000,
			v[d "lat_ns.mean"] / 1000,
			v[d "lat_ns.percentile.99.000000"] / 1000,
			v[j "job_runtime"], v[j "error"], v[d "total_ios"], v[j "ctx"],
			v[j "usr_cpu"], v[j "sys_cpu"]
	}
	if (n == 0)
		exit 1
}

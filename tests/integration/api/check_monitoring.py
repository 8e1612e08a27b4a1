#!/usr/bin/python3
"""check_monitoring.py SCRAPE RULES.yml DASHBOARD.json

Every PromQL expression of the alerting rules and of the Grafana dashboard
may only name metric families the server exports (as seen in SCRAPE, a
GET /metrics answer) and, in by (...) and {label=...} selectors, only labels
those families carry (plus instance and job, which Prometheus adds, and le
of histograms).  The dashboard must be valid JSON with the panels an operator
looks for.  Prints each problem; exit 1 if there is any.
"""
import json
import re
import sys

PROM_LABELS = {"instance", "job"}
FUNCS = {"sum", "rate", "increase", "histogram_quantile", "time", "by", "without", "avg",
         "max", "min", "count", "le", "humanize", "humanizeDuration"}


def families(scrape):
    """name -> (type, set of label names seen on its samples)"""
    fam, typ = {}, {}
    for line in scrape.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            typ[m.group(1)] = m.group(2)
            fam.setdefault(m.group(1), set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?", line)
        name, labels = m.group(1), m.group(3) or ""
        base = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and typ.get(name[: -len(suf)]) == "histogram":
                base = name[: -len(suf)]
        fam.setdefault(base, set()).update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', labels))
    return {n: (typ.get(n, "untyped"), ls) for n, ls in fam.items()}


def check_expr(where, expr, fam, problems):
    names = set(re.findall(r"\bnrfca_[a-z0-9_]+", expr))
    used = set()
    for n in names:
        base = n
        for suf in ("_bucket", "_sum", "_count"):
            if n.endswith(suf) and fam.get(n[: -len(suf)], ("",))[0] == "histogram":
                base = n[: -len(suf)]
        if base not in fam:
            problems.append(f"{where}: {n} is not exported by nrfca-server")
            continue
        if base != n or fam[base][0] != "histogram":
            used.add(base)
        else:
            problems.append(f"{where}: {n} is a histogram: use {n}_bucket, _sum or _count")
    have = set(PROM_LABELS)
    for b in used:
        have |= fam[b][1]
        if fam[b][0] == "histogram":
            have.add("le")
    labels = set()
    for grp in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in grp.split(",") if x.strip()}
    for sel in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=|!=|=~|!~)\s*"', sel))
    for lb in sorted(labels - have):
        problems.append(f"{where}: label '{lb}' is not on {', '.join(sorted(used)) or 'any metric'}")
    return names


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    scrape, rules, dash = (open(p, encoding="utf-8").read() for p in sys.argv[1:])
    fam = families(scrape)
    problems = []
    n_rules = 0
    for m in re.finditer(r"- alert: (\S+)\s*\n(?:\s*#.*\n)*\s*expr: (.+)", rules):
        n_rules += 1
        check_expr(f"rule {m.group(1)}", m.group(2), fam, problems)
    if n_rules == 0:
        problems.append("no alerting rule found in " + sys.argv[2])
    try:
        d = json.loads(dash)
    except json.JSONDecodeError as e:
        print(f"{sys.argv[3]}: not JSON: {e}")
        return 1
    titles = set()
    for p in d.get("panels", []):
        titles.add(p.get("title", ""))
        if not p.get("targets"):
            problems.append(f"panel '{p.get('title')}' has no query")
        for t in p.get("targets", []):
            if not t.get("expr"):
                problems.append(f"panel '{p.get('title')}' target {t.get('refId')} has no expr")
                continue
            check_expr(f"panel '{p.get('title')}'", t["expr"], fam, problems)
    for want in ("Issuance rate", "Rejections by rule", "Enrollment latency"):
        if want not in titles:
            problems.append(f"the dashboard has no '{want}' panel")
    ids = [p.get("id") for p in d.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    for p in problems:
        print(p)
    print(f"{n_rules} rules, {len(d.get('panels', []))} panels, {len(fam)} metric families exported: "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

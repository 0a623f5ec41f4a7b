#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""deploy/: every Kubernetes manifest parses as YAML and says what docs/deploy.md promises.

- every file in deploy/k8s parses (PyYAML's safe loader), every document has
  apiVersion, kind and metadata.name, and the five kinds are there;
- each row of the securityContext table of docs/deploy.md (between the
  `<!-- securitycontext -->` markers) holds in the Deployment, at the path
  and with the value the row gives;
- the probes ask /healthz and /readyz on a port the container declares, the
  grace period outlasts --drain-timeout, --max-conns-per-ip is the whole
  --max-conns, the selectors of the Services, the PodDisruptionBudget and the
  HorizontalPodAutoscaler find the Deployment's pods, the autoscaler scales
  on a cact_ metric, and the NetworkPolicy's egress names every destination
  (no rule open to everything);
- deploy/Containerfile builds from Debian packages only, and
  deploy/haproxy.cfg checks /readyz and pins sessions on Mcp-Session-Id.

    tests/deploy/manifests.py   (CACT_SOURCE_ROOT from meson test)
"""

import glob
import os
import re
import sys

ROOT = os.environ.get("CACT_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def get(obj, path):
    """obj at a dotted path; `[name=x]` picks the list item with that name."""
    for part in path.split("."):
        m = re.fullmatch(r"(\w+)\[name=([\w-]+)\]", part)
        if m:
            items = obj.get(m.group(1), []) if isinstance(obj, dict) else []
            obj = next((i for i in items if i.get("name") == m.group(2)), None)
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
        if obj is None:
            return None
    return obj


def arg_after(args, flag):
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def doc_rows():
    """(path, value) rows of docs/deploy.md's securityContext table."""
    with open(os.path.join(ROOT, "docs", "deploy.md")) as f:
        text = f.read()
    m = re.search(r"<!-- securitycontext -->(.*?)<!-- /securitycontext -->", text, re.S)
    if not check(m, "docs/deploy.md has no <!-- securitycontext --> table"):
        return []
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[1].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1].strip("`")))
    check(len(rows) >= 5, "docs/deploy.md's securityContext table has %d rows" % len(rows))
    return rows


def main():
    try:
        import yaml
    except ImportError:
        print("manifests: PyYAML is missing (apt-get install python3-yaml; scripts/install-deps)")
        return 1

    files = sorted(glob.glob(os.path.join(ROOT, "deploy", "k8s", "*.yaml")))
    check(files, "no manifests in deploy/k8s")
    docs = {}
    for path in files:
        with open(path) as f:
            try:
                loaded = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                check(False, "%s: %s" % (os.path.basename(path), e))
                continue
        for d in loaded:
            name = os.path.basename(path)
            if not (check(isinstance(d, dict), "%s: a document is not a mapping" % name) and
                    check(d.get("apiVersion") and d.get("kind") and get(d, "metadata.name"),
                          "%s: a document lacks apiVersion, kind or metadata.name" % name)):
                continue
            docs.setdefault(d["kind"], []).append(d)
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                 "NetworkPolicy"):
        check(kind in docs, "no %s in deploy/k8s" % kind)
    if failures:
        return report(len(files))

    dep = docs["Deployment"][0]
    pod = get(dep, "spec.template.spec")
    labels = get(dep, "spec.template.metadata.labels") or {}
    check(all(labels.get(k) == v for k, v in get(dep, "spec.selector.matchLabels").items()),
          "Deployment: selector does not match its pods' labels")
    c = get(pod, "containers[name=cact]")
    if not check(c, "Deployment: no container named cact"):
        return report(len(files))
    scope = {"pod": pod, "container": c}
    for path, want in doc_rows():
        where, _, rest = path.partition(".")
        have = get(scope.get(where, {}), rest)
        if want.startswith("[") and isinstance(have, list):
            ok = all(x in have for x in yaml.safe_load(want))
        else:
            ok = have == yaml.safe_load(want)
        check(ok, "Deployment: %s is %r, docs/deploy.md says %s" % (path, have, want))

    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("startupProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        check(get(c, probe + ".httpGet.path") == path, "Deployment: %s does not ask %s" % (probe, path))
        check(get(c, probe + ".httpGet.port") in ports,
              "Deployment: %s's port is not one the container declares" % probe)
    args = [str(a) for a in c.get("args", [])]
    http = arg_after(args, "--http") or ""
    check(http.startswith("0.0.0.0:") and int(http.rsplit(":", 1)[1]) == ports.get("http"),
          "Deployment: --http %s is not 0.0.0.0 on the http port" % http)
    check(arg_after(args, "--max-conns-per-ip") == (arg_after(args, "--max-conns") or "512"),
          "Deployment: behind a proxy --max-conns-per-ip must be the whole --max-conns")
    drain = float(arg_after(args, "--drain-timeout") or 30)
    check(pod.get("terminationGracePeriodSeconds", 30) > drain,
          "Deployment: terminationGracePeriodSeconds does not outlast --drain-timeout")
    if "--token-env" in args:
        var = arg_after(args, "--token-env")
        check(any(e.get("name") == var and get(e, "valueFrom.secretKeyRef") for e in c.get("env", [])),
              "Deployment: the token's variable %s does not come from a Secret" % var)
    metrics = arg_after(args, "--metrics")
    if metrics:
        check(int(metrics.rsplit(":", 1)[1]) == ports.get("metrics"),
              "Deployment: --metrics is not on the metrics port")

    def selects(selector):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    for svc in docs["Service"]:
        name = svc["metadata"]["name"]
        check(selects(get(svc, "spec.selector")), "Service %s: selector misses the pods" % name)
        for p in get(svc, "spec.ports") or []:
            t = p.get("targetPort")
            check(t in ports or t in ports.values(), "Service %s: targetPort %s not declared" % (name, t))
    pdb = docs["PodDisruptionBudget"][0]
    check(selects(get(pdb, "spec.selector.matchLabels")), "PodDisruptionBudget: selector misses the pods")
    check(get(pdb, "spec.maxUnavailable") is not None or get(pdb, "spec.minAvailable") is not None,
          "PodDisruptionBudget: neither maxUnavailable nor minAvailable")
    hpa = docs["HorizontalPodAutoscaler"][0]
    check(get(hpa, "spec.scaleTargetRef.kind") == "Deployment" and
          get(hpa, "spec.scaleTargetRef.name") == dep["metadata"]["name"],
          "HorizontalPodAutoscaler: does not scale the Deployment")
    check(get(hpa, "spec.minReplicas") and get(hpa, "spec.minReplicas") <= get(hpa, "spec.maxReplicas"),
          "HorizontalPodAutoscaler: minReplicas/maxReplicas")
    check(any((get(m, "pods.metric.name") or "").startswith("cact_") for m in get(hpa, "spec.metrics") or []),
          "HorizontalPodAutoscaler: no cact_ metric from /metrics")
    np = docs["NetworkPolicy"][0]
    check(selects(get(np, "spec.podSelector.matchLabels")), "NetworkPolicy: podSelector misses the pods")
    check("Egress" in (get(np, "spec.policyTypes") or []), "NetworkPolicy: egress is not restricted")
    for i, rule in enumerate(get(np, "spec.egress") or []):
        check(rule.get("to") and rule.get("ports"),
              "NetworkPolicy: egress rule %d is open to every destination or port" % i)
        for to in rule.get("to") or []:
            cidr = get(to, "ipBlock.cidr") or ""
            check(not cidr.endswith("/0"), "NetworkPolicy: egress rule %d opens %s" % (i, cidr))
    ingress_ports = {p.get("port") for r in get(np, "spec.ingress") or [] for p in r.get("ports") or []}
    check(ports.get("http") in ingress_ports, "NetworkPolicy: the http port is not let in")

    with open(os.path.join(ROOT, "deploy", "Containerfile")) as f:
        cf = f.read()
    base = re.search(r"^ARG BASE=(\S+)", cf, re.M)
    check(base and "debian:bookworm" in base.group(1), "Containerfile: BASE is not Debian 12")
    for line in re.findall(r"^FROM\s+(\S+)", cf, re.M):
        check(line == "${BASE}", "Containerfile: FROM %s is not the Debian base" % line)
    for bad in ("pip install", "npm ", "curl ", "wget ", "ADD http"):
        check(bad not in cf, "Containerfile: installs outside Debian's packages (%s)" % bad.strip())

    with open(os.path.join(ROOT, "deploy", "haproxy.cfg")) as f:
        hc = f.read()
    check(re.search(r"http-check send meth GET uri /readyz", hc), "haproxy.cfg: health checks do not ask /readyz")
    check("stick store-response res.hdr(Mcp-Session-Id)" in hc and
          "stick match req.hdr(Mcp-Session-Id)" in hc, "haproxy.cfg: sessions are not pinned on Mcp-Session-Id")
    return report(len(files))


def report(n):
    for f in failures:
        print("manifests: FAIL: " + f)
    if failures:
        return 1
    print("manifests: %d files in deploy/k8s parsed; the fields docs/deploy.md promises hold" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Self-test of check.py: each check must catch the mistake it is there for.

Renders the real base and overlays (as check.py does), confirms each rendering passes, then
breaks a copy in one way at a time (a KafkaUser missing a topic or holding Create, an egress
rule without peers, ingress from every pod of the namespace, a grace period shorter than the
shutdown, a namespace that does not enforce "restricted", …) and asserts the checks report
it. `deploy/check` runs this after the checks; offline, with the tools it installed.

Exit status: 0 when every broken case is reported, 1 otherwise, 2 on a tool problem.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check  # noqa: E402


def find(docs: list[dict], kind: str, name: str) -> dict:
    for obj in docs:
        if obj.get("kind") == kind and check.dig(obj, "metadata", "name") == name:
            return obj
    raise LookupError(f"{kind}/{name} is not rendered")


def job(docs: list[dict], svc: str) -> dict:
    return next(o for o in docs if o.get("kind") == "Job" and o["metadata"]["name"].startswith(f"{svc}-migrate"))


def drop_acl(docs, user, kind, name, operation):
    acls = find(docs, "KafkaUser", user)["spec"]["authorization"]["acls"]
    for acl in acls:
        if acl["resource"]["type"] == kind and acl["resource"]["name"] == name and operation in acl["operations"]:
            acl["operations"].remove(operation)
            return
    raise LookupError(f"{user} has no {operation} on {kind} {name}")


def config_map(docs: list[dict], prefix: str) -> dict:
    """A generated ConfigMap, by its name without the hash suffix."""
    return next(o for o in docs if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith(f"{prefix}-"))


def census_env(docs) -> list[dict]:
    return find(docs, "Deployment", "census")["spec"]["template"]["spec"]["containers"][0]["env"]


# (rendering, what is broken, mutation, a fragment the report must contain)
CASES = [
    ("base", "a KafkaUser missing a topic it reads",
     lambda d: drop_acl(d, "classification-kafka", "topic", "haicheng.census.events.v1", "Read"),
     "KafkaUser/classification-kafka: lacks Read on topic haicheng.census.events.v1"),
    ("base", "a KafkaUser missing a DLQ it writes",
     lambda d: drop_acl(d, "trade-fair-kafka", "topic", "haicheng.classification.events.v1.dlq", "Write"),
     "lacks Write on topic haicheng.classification.events.v1.dlq"),
    ("base", "a KafkaUser missing a consumer group",
     lambda d: drop_acl(d, "support-kafka", "group", "support.fair", "Read"),
     "KafkaUser/support-kafka: lacks Read on group support.fair"),
    ("base", "a service's own variable in another service's ConfigMap",
     lambda d: config_map(d, "trade-fair-config")["data"].update(SUPPORT_PUBLICITY_WORKING_DAYS="5"),
     "SUPPORT_PUBLICITY_WORKING_DAYS is not a variable trade-fair reads"),
    ("base", "a support round published for no working day",
     lambda d: config_map(d, "support-config")["data"].update(SUPPORT_PUBLICITY_WORKING_DAYS="0"),
     "SUPPORT_PUBLICITY_WORKING_DAYS=0 publishes no list for objections"),
    ("base", "an inspection consumer without its group",
     lambda d: drop_acl(d, "inspection-kafka", "group", "inspection.land", "Read"),
     "KafkaUser/inspection-kafka: lacks Read on group inspection.land"),
    ("base", "inspection's notices without their topic",
     lambda d: drop_acl(d, "inspection-kafka", "topic", "haicheng.policy.notices.v1", "Write"),
     "KafkaUser/inspection-kafka: lacks Write on topic haicheng.policy.notices.v1"),
    ("base", "an inspection rule in another service's ConfigMap",
     lambda d: config_map(d, "support-config")["data"].update(INSPECTION_JOINT_WINDOW_DAYS="30"),
     "INSPECTION_JOINT_WINDOW_DAYS is not a variable support reads"),
    ("base", "rating aggregates of fewer than 5",
     lambda d: config_map(d, "inspection-config")["data"].update(INSPECTION_MIN_RATINGS_SHOWN="3"),
     "INSPECTION_MIN_RATINGS_SHOWN=3 shows aggregates of fewer than 5 ratings"),
    ("base", "sampling that falls with the risk tier",
     lambda d: config_map(d, "inspection-config")["data"].update(INSPECTION_RATIO_C_PERCENT="5"),
     "must rise with the risk tier"),
    ("base", "a KafkaUser holding Create",
     lambda d: find(d, "KafkaUser", "census-kafka")["spec"]["authorization"]["acls"][0]["operations"].append("Create"),
     "KafkaUser/census-kafka: ACL on topic haicheng.census.events.v1 grants Create"),
    ("base", "a KafkaUser with a cluster ACL",
     lambda d: find(d, "KafkaUser", "census-kafka")["spec"]["authorization"]["acls"].append(
         {"resource": {"type": "cluster"}, "operations": ["Describe"]}),
     "a service holds topic and group ACLs only"),
    ("base", "a KafkaUser reading a topic its service does not",
     lambda d: find(d, "KafkaUser", "census-kafka")["spec"]["authorization"]["acls"].append(
         {"resource": {"type": "topic", "name": "haicheng.land.events.v1", "patternType": "literal"}, "operations": ["Read"]}),
     "grants Read on topic haicheng.land.events.v1, which `census topics` does not use"),
    ("base", "a service without its KafkaUser Secret mounted",
     lambda d: find(d, "Deployment", "land-parcel")["spec"]["template"]["spec"]["volumes"].pop(1),
     "Deployment/land-parcel: does not mount Secret land-parcel-kafka"),
    ("base", "an egress rule without peers",
     lambda d: find(d, "NetworkPolicy", "census")["spec"]["egress"].append({"ports": [{"port": 443, "protocol": "TCP"}]}),
     "NetworkPolicy/census: an egress rule without peers (to) admits any destination"),
    ("base", "egress to any IP",
     lambda d: find(d, "NetworkPolicy", "haicheng-pg")["spec"]["egress"][2]["to"][0]["ipBlock"].update(cidr="0.0.0.0/0"),
     "NetworkPolicy/haicheng-pg: egress to 0.0.0.0/0: any IP"),
    ("base", "ingress from every pod of the namespace",
     lambda d: find(d, "NetworkPolicy", "trade-fair")["spec"]["ingress"][0]["from"].append({"podSelector": {}}),
     "NetworkPolicy/trade-fair: ingress from every pod of the namespace"),
    ("base", "ingress from every namespace",
     lambda d: find(d, "NetworkPolicy", "census")["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}}),
     "does not name its namespace"),
    ("base", "no default deny",
     lambda d: d.remove(find(d, "NetworkPolicy", "default-deny")),
     "no default-deny NetworkPolicy"),
    ("base", "a grace period shorter than the shutdown",
     lambda d: find(d, "Deployment", "classification")["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=30),
     "Deployment/classification: terminationGracePeriodSeconds 30 s is shorter than the shutdown"),
    ("base", "a namespace that does not enforce restricted",
     lambda d: find(d, "Namespace", "haicheng")["metadata"]["labels"].update({"pod-security.kubernetes.io/enforce": "baseline"}),
     "Namespace/haicheng: must enforce Pod Security \"restricted\""),
    ("base", "a password in DATABASE_URL",
     lambda d: next(o for o in d if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith("census-config"))["data"].update(
         DATABASE_URL="postgres://census:pw@haicheng-pg-rw:5432/census?sslmode=verify-full&sslrootcert=/etc/haicheng/postgres-ca/ca.crt"),
     "DATABASE_URL: holds a password"),
    ("base", "PostgreSQL without server verification",
     lambda d: next(o for o in d if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith("census-config"))["data"].update(
         DATABASE_URL="postgres://census@haicheng-pg-rw:5432/census?sslmode=prefer"),
     "DATABASE_URL: sslmode must be verify-full"),
    ("base", "pg_hba accepting plain connections",
     lambda d: find(d, "Cluster", "haicheng-pg")["spec"]["postgresql"].pop("pg_hba"),
     "lacks `hostnossl all all 0.0.0.0/0 reject`"),
    ("overlays/prod", "a release without a backup schedule",
     lambda d: d.remove(find(d, "ScheduledBackup", "haicheng-pg-daily")),
     "no ScheduledBackup of haicheng-pg"),
    ("overlays/prod", "PostgreSQL without a PodMonitor",
     lambda d: d.remove(find(d, "PodMonitor", "haicheng-pg")),
     "no PodMonitor selecting cnpg.io/cluster=haicheng-pg"),
    ("overlays/prod", "an image pinned by tag only",
     lambda d: [c.update(image="registry.example.com/haicheng/haicheng:0.1.0")
                for o in d if o.get("kind") in ("Deployment", "Job")
                for c in o["spec"]["template"]["spec"]["containers"]],
     "is not pinned by digest"),
    ("overlays/prod", "pools beyond max_connections",
     lambda d: config_map(d, "support-config")["data"].update(DATABASE_MAX_CONNECTIONS="20"),
     "Cluster/haicheng-pg: max_connections 500 is below what the services may open"),
    ("overlays/prod", "a migration Job without the release in its name",
     lambda d: job(d, "census")["metadata"].update(name="census-migrate"),
     "must be named census-migrate-0.1.0"),
    ("overlays/dev", "a Secret an operator writes rendered by the overlay",
     lambda d: d.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "haicheng-pg-ca", "namespace": "haicheng"},
                         "stringData": {"ca.crt": "x"}}),
     "Secret/haicheng-pg-ca: is written by CloudNativePG"),
]


def kafka_cases(repo: Path, services: list[str]) -> list[str]:
    """The Kafka resource and the observability files, broken one way at a time."""
    failures = []
    kafka = yaml.safe_load((repo / "deploy/strimzi/kafka.yaml").read_text())
    broken = {
        "a plain listener": (lambda k: k["spec"]["kafka"]["listeners"][0].update(tls=False), "tls must be true"),
        "no client authentication": (lambda k: k["spec"]["kafka"]["listeners"][0].pop("authentication"), "authentication must be"),
        "no authorization": (lambda k: k["spec"]["kafka"].pop("authorization"), "authorization.type must be simple"),
        "peers missing a service": (
            lambda k: k["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"][0]["podSelector"]["matchExpressions"][0]["values"].pop(),
            "networkPolicyPeers name"),
    }
    report = check.Report(where="deploy/strimzi/kafka.yaml")
    check.check_kafka_resource(copy.deepcopy(kafka), services, report)
    if report.errors:
        failures.append(f"deploy/strimzi/kafka.yaml as committed: {report.errors[0]}")
    for what, (mutate, expected) in broken.items():
        k = copy.deepcopy(kafka)
        mutate(k)
        report = check.Report(where="deploy/strimzi/kafka.yaml")
        check.check_kafka_resource(k, services, report)
        if not any(expected in e for e in report.errors):
            failures.append(f"deploy/strimzi/kafka.yaml, {what}: not reported ({report.errors[:2]})")
    root = repo / "deploy/observability"
    report = check.Report(where="deploy/observability")
    check.check_observability(root, report)
    if report.errors:
        failures.append(f"deploy/observability as committed: {report.errors[0]}")
    edits = {
        "a pipeline without the memory limiter": ("collector.yaml", "processors: [memory_limiter, k8sattributes, batch]",
                                                  "processors: [k8sattributes, batch]", "memory_limiter must come first"),
        "OTLP onwards without TLS": ("collector.yaml", "insecure: false", "insecure: true", "must use TLS"),
        "no alert on consumer lag": ("alerts.yaml", "sum by (consumer_group) (consumer_lag)", "vector(0)",
                                     "no alert on consumer lag"),
    }
    for what, (name, old, new, expected) in edits.items():
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(root, tmp, dirs_exist_ok=True)
            path = Path(tmp) / name
            text = path.read_text()
            if old not in text:
                failures.append(f"deploy/observability, {what}: {old!r} is not in {name}")
                continue
            path.write_text(text.replace(old, new, 1))
            report = check.Report(where="deploy/observability")
            check.check_observability(Path(tmp), report)
            if not any(expected in e for e in report.errors):
                failures.append(f"deploy/observability, {what}: not reported ({report.errors[:2]})")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--kubectl", required=True)
    args, _ = parser.parse_known_args()
    repo = args.repo.resolve()
    src = check.read_source(repo)
    renderings = {}
    failures = []
    for name in sorted({case[0] for case in CASES}):
        try:
            text = check.render(args.kubectl, repo / "deploy/k8s" / name)
        except RuntimeError as err:
            print(f"self-test: kubectl kustomize deploy/k8s/{name} failed: {err}", file=sys.stderr)
            return 2
        renderings[name] = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
        report = check.Report(where=f"deploy/k8s/{name}")
        check.check_rendering(src, None, report, name, copy.deepcopy(renderings[name]))
        if report.errors:
            failures.append(f"deploy/k8s/{name} as committed: {report.errors[0]}")
    for name, broken, mutate, expected in CASES:
        docs = copy.deepcopy(renderings[name])
        mutate(docs)
        report = check.Report(where=f"deploy/k8s/{name}")
        check.check_rendering(src, None, report, name, docs)
        if not any(expected in error for error in report.errors):
            failures.append(f"{name}, {broken}: not reported (expected {expected!r}; got {report.errors[:3]})")
    failures += kafka_cases(repo, list(src.services))
    for failure in failures:
        print(f"self-test: FAILED {failure}", file=sys.stderr)
    print(f"self-test: {len(CASES) - len(failures)} of {len(CASES)} broken manifests reported"
          + ("" if not failures else f", {len(failures)} failure(s)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Offline checks of the deployment files; `deploy/check` installs the tools and runs this.

For each kustomization (the base and every overlay) it renders the objects with
`kubectl kustomize`, validates each built-in object against the Kubernetes JSON schemas
(kubernetes-validate, strict: unknown fields are errors) for every version asked, checks the
custom resources (Strimzi, CloudNativePG) for their required fields, and then checks that the
objects agree with each other and with the source:

- the variables are what each service binary says it reads (`<service> vars`, built with
  cargo): every platform variable is set in every Deployment, exactly once, with a value
  that parses; a service's own variables (notice rules, census factors) may be set in its
  Deployment; any other name is an error (a typo); DATABASE_URL and AUTH_TOKENS come from
  Secrets; AUTH_DEVELOPMENT (development mode) is set in no overlay; DATABASE_OWNER_URL (the
  owner role) in no Deployment, and in every migration Job from `<svc>-database-owner`;
  AUDIT_RETENTION keeps six months at least; a support round is published for a working day
  at least; inspection shows rating aggregates of 5 or more and samples more with each risk
  tier;
- ports (GRPC_ADDR, containerPort, probes, Service, NetworkPolicy) equal the service's
  DEFAULT_GRPC_PORT, the probes GRPC_HEALTH_ADDR's port instead when set (TLS on
  GRPC_TLS_CERT needs it: kubelet's gRPC probes speak no TLS); the TLS files lie in a mounted
  volume; selectors select the pods; HPA, PDB and replicas fit together;
- security context, resources, the migration Job (a name per release in an overlay);
  terminationGracePeriodSeconds covers the whole shutdown: SHUTDOWN_GRACE_MS, the drain cut
  at REQUEST_TIMEOUT_MS, and the platform's WORKERS_STOP_BUDGET and PRODUCER_FLUSH_BUDGET
  (read from services/platform/src/lib.rs);
- the namespace enforces Pod Security "restricted";
- network policy: a namespace default deny; ingress only from named namespaces (never from
  every pod of the namespace), egress only to named peers (never to any IP, never a rule
  without peers): kube-dns, the brokers, the PostgreSQL instances, the collector; the
  PostgreSQL instances reached only by the services, the operator and each other;
- Kafka identities: one KafkaUser per service whose ACLs are exactly what `<service> topics`
  prints (its consumers' topics and groups, its outbox topics and the DLQs of what it reads),
  no Create/Delete/Alter nor a cluster ACL, its Secret mounted by the service's pods;
- PostgreSQL: TLS only (pg_hba), DATABASE_URL with sslmode=verify-full against the mounted
  cluster CA and no password (PGPASSWORD from the role's one Secret), backups in a release
  overlay (object store, ScheduledBackup), a PodMonitor;
- a KafkaTopic (and its .dlq) for every topic of `proto/src/topics.rs`, partitions equal to
  KAFKA_TOPIC_PARTITIONS; a database, an owner role and a runtime role (`<owner>_app`) per
  service, the runtime role's URL in `<svc>-database`, the owner's in `<svc>-database-owner`;
  the connection budget;
- Secrets: rendered ones are well formed (database URLs, AUTH_TOKENS); in a dev overlay every
  referenced Secret must be rendered;
- the Dockerfile copies every workspace member and builds every binary a pod runs;
  deploy/README.md documents every variable.

deploy/strimzi/kafka.yaml (the Kafka resource the cluster needs) and deploy/observability/
(collector configuration, ServiceMonitor, alert rules, dashboard) are checked too.

Exit status: 0 when everything passes, 1 on any error (all errors are listed), 2 on a usage
or tool problem.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import string
import subprocess
import sys
try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, unquote

import yaml

NAMESPACE = "haicheng"
APP_UID = 10001
AUTH_SECRET = ("haicheng-auth-tokens", "auth-tokens")
PG_CLUSTER = "haicheng-pg"
PG_RW_HOST = f"{PG_CLUSTER}-rw"
KAFKA_CLUSTER = "haicheng"
# Always set, whatever the services list.
REQUIRED_VARS = ("GRPC_ADDR", "DATABASE_URL", "KAFKA_BOOTSTRAP", "AUTH_TOKENS")
SECRET_VARS = {"PGPASSWORD", "AUTH_TOKENS"}
# Read by a client library rather than by the platform's configuration: sqlx takes the
# password from PGPASSWORD when DATABASE_URL has none (libpq's convention).
CLIENT_LIBRARY_VARS = {"PGPASSWORD"}
PG_CA_SECRET = "haicheng-pg-ca"  # written by CloudNativePG: ca.crt (and ca.key, never mounted)
KAFKA_CA_SECRET = "haicheng-kafka-cluster-ca"  # the Kafka cluster CA, copied from namespace kafka
# Secrets an operator or the cluster's set-up writes, never an overlay: (name, who).
def provided_secret(name: str) -> str | None:
    if name == PG_CA_SECRET:
        return "CloudNativePG"
    if name == KAFKA_CA_SECRET:
        return "the cluster set-up (copied from namespace kafka)"
    if name.endswith("-kafka"):
        return "Strimzi's User Operator"
    return None
KAFKA_NAMESPACE = "kafka"
KAFKA_TLS_PORT = 9093
NAME_LABEL = "kubernetes.io/metadata.name"
# Operations no service's KafkaUser may hold: the Topic Operator owns the topics.
FORBIDDEN_KAFKA_OPERATIONS = {"Create", "Delete", "Alter", "AlterConfigs", "All", "ClusterAction", "IdempotentWrite"}
# What shutdown does after the drain besides the budgets (closing the pool, flushing telemetry).
SHUTDOWN_MARGIN_MS = 5_000
# Variables no manifest may set: development mode accepts the development tokens, and a
# cluster must fail closed without credentials instead.
FORBIDDEN_VARS = {"AUTH_DEVELOPMENT": "development mode accepts the development tokens (dev-commerce, dev-enterprise-<USCC>); a cluster runs with credentials"}
# Variables no Deployment may set (a migration Job sets them): the service runs as its
# runtime role and never holds the owner's credentials.
JOB_ONLY_VARS = {"DATABASE_OWNER_URL": "the owner role's credentials belong to the migration Job; the service runs as its runtime role"}
RUNTIME_ROLE_SUFFIX = "_app"
# The Cybersecurity Law keeps network logs six months: platform::audit::MIN_RETENTION.
AUDIT_MIN_MS = 183 * 86400 * 1000
# Variables whose value must be a non-negative integer (config.rs parses them as numbers).
NUMERIC_VAR = re.compile(r"(_MS|_BYTES|_REQUESTS|_SIZE|_ATTEMPTS|_CONNECTIONS|_PARTITIONS)$")
# PostgreSQL's superuser_reserved_connections default, kept free of the services' pools.
PG_RESERVED_CONNECTIONS = 3
CRD_GROUPS = {"kafka.strimzi.io", "postgresql.cnpg.io", "monitoring.coreos.com"}
CLUSTER_SCOPED = {"Namespace"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


# --------------------------------------------------------------------------- the source


@dataclass
class Source:
    """What the repository says the deployment must agree with."""

    repo: Path
    env_vars: list[str]  # the platform's: every Deployment sets them
    services: dict[str, int]  # binary name -> DEFAULT_GRPC_PORT
    topics: list[str]
    departments: set[str]
    scopes: set[str]
    members: list[str]
    docker_bins: list[str]
    docker_copies: list[str]
    docker_uid: int | None
    service_vars: dict[str, list[str]] = field(default_factory=dict)  # binary -> its own variables
    # binary -> (topics read with their group, topics written), as `<service> topics` prints them
    kafka: dict[str, tuple[list[tuple[str, str]], list[str]]] = field(default_factory=dict)
    shutdown_budgets_ms: dict[str, int] = field(default_factory=dict)  # constant -> ms


def fatal(message: str) -> None:
    """A problem with the tools or the source, not with the manifests: exit status 2."""
    print(f"check: {message}", file=sys.stderr)
    sys.exit(2)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as err:
        fatal(f"cannot read {path}: {err}")


def build_services(repo: Path) -> Path:
    """Builds the binaries the way `make run` and `make test` do (`--workspace`: one set of
    features, so this build and theirs share every artifact; `-p`/`cargo run -p` would resolve
    each package's features apart and build the dependencies again) and returns their folder."""
    cargo = os.environ.get("CARGO", "cargo")
    try:
        build = subprocess.run([cargo, "build", "--quiet", "--workspace", "--bins"], cwd=repo,
                               capture_output=True, text=True)
        meta = subprocess.run([cargo, "metadata", "--format-version", "1", "--no-deps"], cwd=repo,
                              capture_output=True, text=True)
    except OSError as err:
        fatal(f"cannot run {cargo} to build the services (their variable lists): {err}")
    if build.returncode != 0:
        fatal(f"cargo build of the services failed:\n{build.stderr.strip()}")
    if meta.returncode != 0:
        fatal(f"cargo metadata failed:\n{meta.stderr.strip()}")
    return Path(json.loads(meta.stdout)["target_directory"]) / "debug"


def run_service(binary_dir: Path, svc: str, command: str) -> subprocess.CompletedProcess:
    """`<svc> <command>` from the binaries `build_services` made."""
    try:
        return subprocess.run([str(binary_dir / svc), command], capture_output=True, text=True)
    except OSError as err:
        fatal(f"cannot run `{svc} {command}`: {err}")


def read_variables(binary_dir: Path, services: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """What each service binary reads, as it prints it (`<service> vars`: OWNER<TAB>NAME lines,
    OWNER `platform` or the service): the platform's variables and each service's own."""
    platform: list[str] | None = None
    own: dict[str, list[str]] = {}
    for svc in services:
        run = run_service(binary_dir, svc, "vars")
        lines = [line.split("\t") for line in run.stdout.splitlines() if line.strip()]
        if run.returncode != 0 or not lines or any(len(parts) != 2 for parts in lines):
            fatal(f"`{svc} vars` did not list its variables: {run.stderr.strip() or run.stdout[:200]}")
        mine = [name for owner, name in lines if owner == "platform"]
        if platform is not None and mine != platform:
            fatal(f"`{svc} vars` lists other platform variables than the other services")
        platform = mine
        own[svc] = [name for owner, name in lines if owner != "platform"]
    missing = [v for v in REQUIRED_VARS if v not in (platform or [])]
    if missing:
        fatal(f"the services no longer read {', '.join(missing)}")
    return platform or [], own


def read_kafka_use(binary_dir: Path, services: list[str]) -> dict[str, tuple[list[tuple[str, str]], list[str]]]:
    """What each service reads and writes on Kafka, as its binary prints it (`<service> topics`:
    `consume<TAB>TOPIC<TAB>GROUP` and `produce<TAB>TOPIC` lines, from its ServiceSpec)."""
    use = {}
    for svc in services:
        run = run_service(binary_dir, svc, "topics")
        reads, writes = [], []
        for line in run.stdout.splitlines():
            parts = line.split("\t")
            if parts[0] == "consume" and len(parts) == 3:
                reads.append((parts[1], parts[2]))
            elif parts[0] == "produce" and len(parts) == 2:
                writes.append(parts[1])
            elif line.strip():
                fatal(f"`{svc} topics` printed an unexpected line: {line!r}")
        if run.returncode != 0 or not (reads or writes):
            fatal(f"`{svc} topics` did not list its topics: {run.stderr.strip() or run.stdout[:200]}")
        use[svc] = (reads, writes)
    return use


def read_shutdown_budgets(repo: Path) -> dict[str, int]:
    """The shutdown budgets the platform's code uses after the drain (constants in lib.rs)."""
    text = _read(repo / "services/platform/src/lib.rs")
    budgets = {}
    for name in ("WORKERS_STOP_BUDGET", "PRODUCER_FLUSH_BUDGET"):
        m = re.search(rf"pub const {name}: Duration = Duration::from_(secs|millis)\((\d+)\);", text)
        if not m:
            fatal(f"services/platform/src/lib.rs has no `pub const {name}: Duration = Duration::from_secs(N);`")
        budgets[name] = int(m.group(2)) * (1000 if m.group(1) == "secs" else 1)
    return budgets


def read_source(repo: Path) -> Source:
    services = {}
    for cfg in sorted(repo.glob("services/*/src/config.rs")):
        m = re.search(r"pub const DEFAULT_GRPC_PORT: u16 = (\d+);", cfg.read_text())
        if m:
            services[cfg.parent.parent.name] = int(m.group(1))
    if not services:
        fatal("found no service (services/*/src/config.rs with DEFAULT_GRPC_PORT)")
    binary_dir = build_services(repo)
    env_vars, service_vars = read_variables(binary_dir, list(services))
    kafka = read_kafka_use(binary_dir, list(services))
    budgets = read_shutdown_budgets(repo)

    topics = re.findall(r'pub const \w+: &str = "([a-z0-9.\-_]+)";', _read(repo / "proto/src/topics.rs"))
    if not topics:
        fatal("found no topic in proto/src/topics.rs")

    # platform::auth, one file or a folder of them (auth/principal.rs, auth/tokens.rs, …).
    auth_files = [repo / "services/platform/src/auth.rs"] + sorted((repo / "services/platform/src/auth").glob("*.rs"))
    auth = "\n".join(_read(f) for f in auth_files if f.exists())
    if not auth:
        fatal("found no services/platform/src/auth.rs nor auth/*.rs")
    departments = set(re.findall(r'Department::\w+ => "([a-z_]+)"', auth))
    scope_block = re.search(r"pub mod scopes \{(.*?)\n\}", auth, re.S)
    scopes = set(re.findall(r'pub const \w+: &str = "([a-z._:]+)";', scope_block.group(1) if scope_block else ""))

    manifest = _read(repo / "Cargo.toml")
    if tomllib:
        members = list(tomllib.loads(manifest).get("workspace", {}).get("members", []))
    else:  # Python < 3.11: the members array, one string per entry
        block = re.search(r"^members\s*=\s*\[(.*?)\]", manifest, re.S | re.M)
        members = re.findall(r'"([^"]+)"', block.group(1)) if block else []

    dockerfile = _read(repo / "deploy/Dockerfile")
    joined = re.sub(r"\\\n", " ", dockerfile)
    builds = [line for line in joined.splitlines() if "cargo build" in line]
    docker_bins = re.findall(r"--bin\s+([\w-]+)", " ".join(builds))
    stages = joined.split("\nFROM ")
    builder = stages[1] if len(stages) > 1 else ""
    docker_copies = []
    for line in builder.splitlines():
        m = re.match(r"\s*COPY\s+(?!--from)(.*)$", line)
        if m:
            docker_copies += m.group(1).split()[:-1]
    uid = re.search(r"^USER\s+(\d+)", dockerfile, re.M)
    return Source(repo, env_vars, services, topics, departments, scopes, members, docker_bins,
                  docker_copies, int(uid.group(1)) if uid else None, service_vars, kafka, budgets)


# --------------------------------------------------------------------------- reporting


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    where: str = ""

    def error(self, obj: dict | None, message: str) -> None:
        self.errors.append(f"{self.where}: {describe(obj) + ': ' if obj else ''}{message}")

    def note(self, message: str) -> None:
        self.notes.append(f"{self.where}: {message}")


def describe(obj: dict) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


def dig(obj, *path, default=None):
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return default
        if obj is None:
            return default
    return obj


# --------------------------------------------------------------------------- schemas


class Schemas:
    """kubernetes-validate's bundled schemas, each loaded once."""

    def __init__(self, versions: list[str]):
        import kubernetes_validate.utils as kv  # noqa: PLC0415 (only with the tools installed)

        self.kv = kv
        known = kv.all_versions()
        self.versions = []
        for wanted in versions:
            mm = kv.major_minor(wanted)
            if not any(kv.major_minor(v) == mm for v in known):
                fatal(f"kubernetes-validate has no schemas for Kubernetes {wanted} "
                      f"(it has {known[0]} to {known[-1]})")
            self.versions.append(next(v for v in known if kv.major_minor(v) == mm))

    @functools.lru_cache(maxsize=None)
    def _definitions(self, schema_dir: str):
        from referencing import Resource  # noqa: PLC0415

        return Resource.from_contents(self.kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir))

    @functools.lru_cache(maxsize=None)
    def validator(self, version: str, kind: str, api_version: str):
        import jsonschema  # noqa: PLC0415
        from referencing import Registry, Resource  # noqa: PLC0415

        schema_dir = f"v{version}-local-strict"
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = self.kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{api}.json", version)
        except FileNotFoundError:
            return None
        registry = self._definitions(schema_dir) @ (Resource.from_contents(schema) @ Registry())
        return jsonschema.validators.Draft202012Validator(schema, registry=registry)

    def validate(self, obj: dict, report: Report) -> None:
        for version in self.versions:
            validator = self.validator(version, obj["kind"], obj["apiVersion"])
            if validator is None:
                report.error(obj, f"no Kubernetes {self.kv.major_minor(version)} schema for "
                                  f"{obj['apiVersion']} {obj['kind']} (unknown kind or apiVersion)")
                continue
            for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
                path = ".".join(str(p) for p in err.absolute_path) or "(top)"
                report.error(obj, f"Kubernetes {self.kv.major_minor(version)} schema: {path}: {err.message}")


# --------------------------------------------------------------------------- objects


def check_object(obj: dict, report: Report, schemas: Schemas) -> None:
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            report.error(obj, f"{key} is missing")
    name = dig(obj, "metadata", "name")
    if not isinstance(name, str) or not name:
        report.error(obj, "metadata.name is missing")
    if not (isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str) and isinstance(name, str)
            and obj["apiVersion"] and obj["kind"] and name):
        return
    pattern = DNS_LABEL if obj["kind"] in {"Service", "Namespace"} else DNS_SUBDOMAIN
    if not pattern.match(name):
        report.error(obj, f"metadata.name {name!r} is not a valid Kubernetes name")
    namespace = dig(obj, "metadata", "namespace")
    if obj["kind"] in CLUSTER_SCOPED:
        if namespace:
            report.error(obj, "a cluster-scoped object has a namespace")
    elif namespace != NAMESPACE:
        report.error(obj, f"namespace is {namespace!r}, not {NAMESPACE!r}")

    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    if group in CRD_GROUPS:
        check_custom_resource(obj, report)
    else:
        schemas.validate(obj, report)


def check_custom_resource(obj: dict, report: Report) -> None:
    """No schema is bundled for these: required fields and the values the platform needs."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not spec:
        report.error(obj, "spec is missing")
        return
    kind = obj["kind"]
    if kind == "KafkaTopic":
        if obj["apiVersion"] != "kafka.strimzi.io/v1beta2":
            report.error(obj, "apiVersion must be kafka.strimzi.io/v1beta2")
        if dig(obj, "metadata", "labels", "strimzi.io/cluster") != KAFKA_CLUSTER:
            report.error(obj, f"label strimzi.io/cluster must be {KAFKA_CLUSTER!r}")
        topic = spec.get("topicName")
        if not isinstance(topic, str) or not topic:
            report.error(obj, "spec.topicName is missing")
        elif obj["metadata"]["name"] != topic.replace(".", "-"):
            report.error(obj, f"metadata.name should be {topic.replace('.', '-')!r} (spec.topicName with dashes)")
        for key in ("partitions", "replicas"):
            if not isinstance(spec.get(key), int) or spec[key] < 1:
                report.error(obj, f"spec.{key} must be a positive integer")
        isr = dig(spec, "config", "min.insync.replicas")
        if isinstance(isr, int) and isinstance(spec.get("replicas"), int) and isr > spec["replicas"]:
            report.error(obj, f"min.insync.replicas {isr} exceeds replicas {spec['replicas']}: every produce with acks=all would fail")
    elif kind == "Cluster":
        if not isinstance(spec.get("instances"), int) or spec["instances"] < 1:
            report.error(obj, "spec.instances must be a positive integer")
        if not dig(spec, "storage", "size"):
            report.error(obj, "spec.storage.size is missing")
    elif kind == "KafkaUser":
        if obj["apiVersion"] != "kafka.strimzi.io/v1beta2":
            report.error(obj, "apiVersion must be kafka.strimzi.io/v1beta2")
        if dig(obj, "metadata", "labels", "strimzi.io/cluster") != KAFKA_CLUSTER:
            report.error(obj, f"label strimzi.io/cluster must be {KAFKA_CLUSTER!r}")
    elif kind == "ScheduledBackup":
        if len(str(spec.get("schedule", "")).split()) != 6:
            report.error(obj, "spec.schedule must have six fields (seconds first)")
        if not dig(spec, "cluster", "name"):
            report.error(obj, "spec.cluster.name is missing")
    elif kind == "PodMonitor":
        if not spec.get("selector") or not spec.get("podMetricsEndpoints"):
            report.error(obj, "spec.selector and spec.podMetricsEndpoints are required")
    elif kind == "Database":
        for path in (("name",), ("owner",), ("cluster", "name")):
            if not dig(spec, *path):
                report.error(obj, f"spec.{'.'.join(path)} is missing")


# --------------------------------------------------------------------------- helpers


def span_ms(value) -> int | None:
    """A retention span of config.rs (`14d`, `36h`, `90m`, `45s`) in milliseconds."""
    m = re.fullmatch(r"(\d+)([dhms])", (value or "").strip())
    if not m:
        return None
    return int(m.group(1)) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[m.group(2)] * 1000


def parse_quantity(value) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(value))
    if not m:
        return None
    factor = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
              "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return float(m.group(1)) * factor


def selects(selector: dict | None, labels: dict | None) -> bool:
    """A matchLabels selector (or a Service's plain selector) selects these labels."""
    selector = selector or {}
    if "matchExpressions" in selector:
        return False  # not used here; treat as a mismatch so it gets looked at
    match = selector["matchLabels"] if "matchLabels" in selector else selector
    labels = labels or {}
    return all(labels.get(k) == v for k, v in match.items())


def named_namespaces(selector: dict | None) -> set[str] | None:
    """The namespaces a namespaceSelector names by kubernetes.io/metadata.name, or None when
    it selects by anything else (or selects every namespace)."""
    if not isinstance(selector, dict):
        return None
    labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if set(labels) - {NAME_LABEL} or any(e.get("key") != NAME_LABEL or e.get("operator") != "In" for e in expressions):
        return None
    names = [set([labels[NAME_LABEL]])] if NAME_LABEL in labels else []
    names += [set(e.get("values") or []) for e in expressions]
    if not names:
        return None
    return set.intersection(*names) or None


@dataclass
class Objects:
    items: list[dict]

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.items if o.get("kind") == kind]

    def get(self, kind: str, name: str) -> dict | None:
        return next((o for o in self.of(kind) if dig(o, "metadata", "name") == name), None)

    def by_original(self, kind: str, name: str) -> dict | None:
        """A generated ConfigMap/Secret by its name without kustomize's hash suffix."""
        exact = self.get(kind, name)
        if exact:
            return exact
        pattern = re.compile(re.escape(name) + r"-[a-z0-9]{10}$")
        found = [o for o in self.of(kind) if pattern.match(dig(o, "metadata", "name", default=""))]
        return found[0] if len(found) == 1 else None


def secret_value(secret: dict, key: str) -> str | None:
    import base64  # noqa: PLC0415

    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw).decode()
    except ValueError:
        return None


# --------------------------------------------------------------------------- the platform


@dataclass
class Policy:
    name: str
    self_contained: bool  # every referenced Secret must be rendered (dev)
    pinned_image: bool  # no `latest`, no untagged image (prod and any other release overlay)


class PlatformChecks:
    def __init__(self, source: Source, objects: Objects, report: Report, policy: Policy):
        self.src, self.objs, self.report, self.policy = source, objects, report, policy
        self.secret_refs: set[tuple[str, str | None]] = set()  # (secret, key or None)
        self.env_by_service: dict[str, dict[str, str | None]] = {}
        # Each migration Job and its DATABASE_OWNER_URL, checked with the roles.
        self.job_owner_url: dict[str, tuple[dict, str | None]] = {}

    def run(self) -> None:
        if not self.objs.get("Namespace", NAMESPACE):
            self.report.error(None, f"no Namespace {NAMESPACE}")
        images = set()
        for svc, port in self.src.services.items():
            self.service(svc, port, images)
        if len(images) > 1:
            self.report.error(None, f"the workloads use different images: {', '.join(sorted(images))}")
        for image in images:
            self.image(image)
        self.namespace()
        self.default_deny()
        for policy in self.objs.of("NetworkPolicy"):
            self.peers(policy)
        self.topics()
        self.kafka_users()
        self.postgres()
        self.secrets()

    # ---- one service
    def service(self, svc: str, port: int, images: set) -> None:
        error = self.report.error
        deploy = self.objs.get("Deployment", svc)
        if not deploy:
            error(None, f"no Deployment {svc}")
            return
        spec = deploy.get("spec") or {}
        pod = dig(spec, "template", "spec", default={})
        pod_labels = dig(spec, "template", "metadata", "labels", default={})
        if not selects(spec.get("selector"), pod_labels):
            error(deploy, "spec.selector does not select the pod template's labels")
        containers = pod.get("containers") or []
        if len(containers) != 1:
            error(deploy, f"expected one container, found {len(containers)}")
            return
        container = containers[0]
        images.add(container.get("image", ""))
        command = container.get("command") or []
        if command[:1] != [svc] or container.get("args"):
            error(deploy, f"the container must run `{svc}` with no arguments, not {command + (container.get('args') or [])}")
        if svc not in self.src.docker_bins:
            error(deploy, f"the image does not build the binary {svc} (deploy/Dockerfile --bin list)")
        replicas = spec.get("replicas", 1)

        env = self.environment(deploy, container)
        self.env_by_service[svc] = env
        self.variables(deploy, svc, port, env)

        ports = [p for p in container.get("ports") or [] if p.get("name") == "grpc"]
        if [p.get("containerPort") for p in ports] != [port]:
            error(deploy, f"the container needs one port named grpc = {port}")
        probe_port = self.probe_port(deploy, container, port, env)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            got = dig(container, probe, "grpc", "port")
            if got is None and probe != "startupProbe":
                error(deploy, f"{probe} must be a gRPC probe on port {probe_port}")
            elif got is not None and got != probe_port:
                error(deploy, f"{probe} checks port {got}, the service answers probes on {probe_port}")

        self.shutdown(deploy, pod, env)
        self.mounts(deploy, svc, pod, container)
        self.hardening(deploy, pod, container)
        for volume in pod.get("volumes") or []:  # the TLS Secret <service>-tls, in prod
            if dig(volume, "secret", "secretName"):
                self.secret_refs.add((volume["secret"]["secretName"], None))
        if pod.get("serviceAccountName") and not self.objs.get("ServiceAccount", pod["serviceAccountName"]):
            error(deploy, f"ServiceAccount {pod['serviceAccountName']} is not rendered")

        self.service_object(svc, port, pod_labels)
        hpa_min = self.autoscaler(svc, replicas)
        self.disruption_budget(svc, pod_labels, hpa_min if hpa_min is not None else replicas)
        job = self.migration_job(svc, container, env)
        self.network_policy(svc, port, pod_labels, job)

    def shutdown(self, deploy: dict, pod: dict, env: dict) -> None:
        """SIGTERM: NOT_SERVING for SHUTDOWN_GRACE_MS, calls cut at SHUTDOWN_GRACE_MS +
        REQUEST_TIMEOUT_MS, then the workers' and the producer's budgets (lib.rs), then the
        pool and telemetry: the pod's grace period must cover all of it, or the kubelet's
        SIGKILL cuts the offsets' commit or the producer's flush."""
        period = pod.get("terminationGracePeriodSeconds", 30)
        parts = {}
        for var in ("SHUTDOWN_GRACE_MS", "REQUEST_TIMEOUT_MS"):
            value = env.get(var)
            if value is None or not value.strip().isdigit():
                return  # reported by variables()
            parts[var] = int(value)
        # The calls are cut SHUTDOWN_GRACE_MS + REQUEST_TIMEOUT_MS after SIGTERM (server/mod.rs).
        parts.update(self.src.shutdown_budgets_ms)
        parts["margin"] = SHUTDOWN_MARGIN_MS
        need = sum(parts.values())
        if not isinstance(period, int) or need > period * 1000:
            terms = " + ".join(f"{k} {v}" for k, v in parts.items())
            self.report.error(deploy, f"terminationGracePeriodSeconds {period} s is shorter than the shutdown: "
                                      f"{terms} = {need} ms")

    def mounts(self, obj: dict, svc: str, pod: dict, container: dict) -> None:
        """The Kafka identity (the KafkaUser's Secret) and the two CAs, mounted read-only."""
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        mounted = {m.get("name") for m in container.get("volumeMounts") or []}
        for secret, what in ((f"{svc}-kafka", f"the KafkaUser {svc}-kafka's certificate"),
                             (KAFKA_CA_SECRET, "the Kafka cluster CA"), (PG_CA_SECRET, "the PostgreSQL cluster CA")):
            names = [n for n, v in volumes.items() if dig(v, "secret", "secretName") == secret]
            if not names or not mounted & set(names):
                self.report.error(obj, f"does not mount Secret {secret} ({what})")
            if names:
                self.secret_refs.add((secret, None))

    def probe_port(self, deploy: dict, container: dict, port: int, env: dict) -> int:
        """Where kubelet's (plaintext) gRPC probes can check health: the gRPC port, or with TLS
        on (GRPC_TLS_CERT) the plaintext health port GRPC_HEALTH_ADDR, which TLS then needs.
        The TLS files must lie in a volume the container mounts."""
        error = self.report.error
        tls = (env.get("GRPC_TLS_CERT") or "").strip()
        health = (env.get("GRPC_HEALTH_ADDR") or "").strip()
        mounts = [m.get("mountPath", "").rstrip("/") + "/" for m in container.get("volumeMounts") or []]
        for var in ("GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CLIENT_CA"):
            path = (env.get(var) or "").strip()
            if path and not any(path.startswith(m) for m in mounts):
                error(deploy, f"{var}={path!r} is in no volume the container mounts")
        if not health:
            if tls:
                error(deploy, "with TLS (GRPC_TLS_CERT) the gRPC probes need GRPC_HEALTH_ADDR: kubelet's gRPC probes speak no TLS")
            return port
        m = re.fullmatch(r"(0\.0\.0\.0|\[::\]):(\d+)", health)
        if not m:
            error(deploy, f"GRPC_HEALTH_ADDR {health!r} must listen on all interfaces (0.0.0.0:PORT) for kubelet")
            return port
        if int(m.group(2)) == port:
            error(deploy, f"GRPC_HEALTH_ADDR uses the gRPC port {port}")
        return int(m.group(2))

    def environment(self, obj: dict, container: dict) -> dict[str, str | None]:
        """Every variable the container gets, with its value (None when from a Secret not rendered)."""
        env: dict[str, str | None] = {}
        origin: dict[str, str] = {}

        def put(name: str, value, where: str) -> None:
            if name in env:
                self.report.error(obj, f"{name} is set twice ({origin[name]} and {where}): one place only")
            env[name], origin[name] = value, where

        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                name = source["configMapRef"].get("name", "")
                cm = self.objs.get("ConfigMap", name)
                if not cm:
                    self.report.error(obj, f"envFrom ConfigMap {name} is not rendered")
                    continue
                for key, value in (cm.get("data") or {}).items():
                    put(key, str(value), f"ConfigMap {name}")
            elif "secretRef" in source:
                name = source["secretRef"].get("name", "")
                self.secret_refs.add((name, None))
                secret = self.objs.get("Secret", name)
                if not secret:
                    self.report.error(obj, f"envFrom Secret {name}: its keys cannot be checked; use env secretKeyRef")
                    continue
                for key in set(secret.get("data") or {}) | set(secret.get("stringData") or {}):
                    put(key, secret_value(secret, key), f"Secret {name}")
        for item in container.get("env") or []:
            name = item.get("name", "")
            if "value" in item:
                put(name, str(item["value"]), "env")
            elif dig(item, "valueFrom", "secretKeyRef"):
                ref = item["valueFrom"]["secretKeyRef"]
                self.secret_refs.add((ref.get("name", ""), ref.get("key")))
                secret = self.objs.get("Secret", ref.get("name", ""))
                put(name, secret_value(secret, ref.get("key")) if secret else None, f"Secret {ref.get('name')}")
            elif dig(item, "valueFrom", "configMapKeyRef"):
                ref = item["valueFrom"]["configMapKeyRef"]
                cm = self.objs.get("ConfigMap", ref.get("name", ""))
                put(name, dig(cm, "data", ref.get("key")) if cm else None, f"ConfigMap {ref.get('name')}")
                if not cm:
                    self.report.error(obj, f"{name}: ConfigMap {ref.get('name')} is not rendered")
            else:
                put(name, None, "env (field reference)")
        return env

    def variables(self, deploy: dict, svc: str, port: int, env: dict) -> None:
        error = self.report.error
        own = self.src.service_vars.get(svc, [])
        known = set(self.src.env_vars) | set(own) | CLIENT_LIBRARY_VARS
        for var in self.src.env_vars:
            if var in FORBIDDEN_VARS:
                if var in env:
                    error(deploy, f"{var} must not be set: {FORBIDDEN_VARS[var]}")
            elif var in JOB_ONLY_VARS:
                if var in env:
                    error(deploy, f"{var} must not be set in a Deployment: {JOB_ONLY_VARS[var]}")
            elif var not in env:
                error(deploy, f"{var} is not set (every service reads it; `{svc} vars` lists it)")
        for var in sorted(set(env) - known):
            error(deploy, f"{var} is not a variable {svc} reads (typo?); `{svc} vars` lists them")
        container = dig(deploy, "spec", "template", "spec", "containers", 0, default={})
        refs = {i.get("name"): dig(i, "valueFrom", "secretKeyRef") for i in container.get("env") or []}
        expected = {"PGPASSWORD": (f"{svc}-app-db-credentials", "password"), "AUTH_TOKENS": AUTH_SECRET}
        for var in SECRET_VARS:
            ref = refs.get(var)
            want = expected[var]
            if not ref or (ref.get("name"), ref.get("key")) != want:
                error(deploy, f"{var} must come from Secret {want[0]} key {want[1]} (env valueFrom.secretKeyRef)")
        publicity = (env.get("SUPPORT_PUBLICITY_WORKING_DAYS") or "").strip()
        if publicity == "0":
            error(deploy, "SUPPORT_PUBLICITY_WORKING_DAYS=0 publishes no list for objections (a development setting); a cluster publishes for at least 1 working day (公示)")
        self.inspection_rules(deploy, env)
        audit = env.get("AUDIT_RETENTION")
        if audit is not None and (span_ms(audit) or 0) < AUDIT_MIN_MS:
            error(deploy, f"AUDIT_RETENTION={audit!r} must be a span of at least 183d (six months; the service refuses less)")
        addr = env.get("GRPC_ADDR") or ""
        m = re.fullmatch(r"(0\.0\.0\.0|\[::\]):(\d+)", addr)
        if "GRPC_ADDR" not in env:
            pass
        elif not m:
            error(deploy, f"GRPC_ADDR {addr!r} must listen on all interfaces: 0.0.0.0:{port}")
        elif int(m.group(2)) != port:
            error(deploy, f"GRPC_ADDR port {m.group(2)} is not the service's port {port}")
        for var, value in env.items():
            if value is None or var in SECRET_VARS:
                continue
            if NUMERIC_VAR.search(var) and not re.fullmatch(r"\d+", value.strip()):
                error(deploy, f"{var}={value!r} is not a whole number (the service would refuse to start)")
        for entry in (env["KAFKA_BOOTSTRAP"] or "").split(",") if "KAFKA_BOOTSTRAP" in env else []:
            if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d+", entry.strip()):
                error(deploy, f"KAFKA_BOOTSTRAP entry {entry!r} is not host:port")
        otlp = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if otlp and not re.match(r"https?://[^/:]+:\d+", otlp):
            error(deploy, f"OTEL_EXPORTER_OTLP_ENDPOINT {otlp!r} must be http(s)://host:port")

    def inspection_rules(self, deploy: dict, env: dict) -> None:
        """The inspection settings a cluster keeps whatever the service accepts: ratings shown
        only in aggregates of at least 5 (fewer could tell a department who rated), and
        sampling that rises with the risk tier (分级分类: A ≤ B ≤ C ≤ D)."""
        shown = (env.get("INSPECTION_MIN_RATINGS_SHOWN") or "").strip()
        if re.fullmatch(r"\d+", shown) and int(shown) < 5:
            self.report.error(deploy, f"INSPECTION_MIN_RATINGS_SHOWN={shown} shows aggregates of fewer than 5 ratings, "
                                      "from which a department could tell who rated; a cluster keeps at least 5")
        ratios = []
        for tier in "ABCD":
            raw = (env.get(f"INSPECTION_RATIO_{tier}_PERCENT") or "").strip()
            if not re.fullmatch(r"\d+(\.\d{1,2})?", raw):
                return  # unset (the defaults rise) or refused by the service itself
            ratios.append(float(raw))
        if ratios != sorted(ratios):
            shown = ", ".join(f"{t} {r:g} %" for t, r in zip("ABCD", ratios))
            self.report.error(deploy, f"INSPECTION_RATIO_*_PERCENT ({shown}) must rise with the risk tier (A ≤ B ≤ C ≤ D)")

    def hardening(self, obj: dict, pod: dict, container: dict) -> None:
        error = self.report.error
        pod_sc = pod.get("securityContext") or {}
        sc = container.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            error(obj, "runAsNonRoot must be true")
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if uid != APP_UID or (self.src.docker_uid is not None and self.src.docker_uid != APP_UID):
            error(obj, f"runAsUser must be {APP_UID}, the image's user (deploy/Dockerfile USER {self.src.docker_uid})")
        seccomp = dig(sc, "seccompProfile", "type") or dig(pod_sc, "seccompProfile", "type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            error(obj, "seccompProfile must be RuntimeDefault (Pod Security \"restricted\")")
        if sc.get("readOnlyRootFilesystem") is not True:
            error(obj, "readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            error(obj, "allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            error(obj, "the container must not be privileged")
        if "ALL" not in (dig(sc, "capabilities", "drop") or []):
            error(obj, "capabilities.drop must contain ALL")
        if dig(sc, "capabilities", "add"):
            error(obj, "no capability may be added")
        resources = container.get("resources") or {}
        for res in ("cpu", "memory"):
            req, lim = dig(resources, "requests", res), dig(resources, "limits", res)
            if req is None or lim is None:
                error(obj, f"resources.requests.{res} and resources.limits.{res} must be set")
                continue
            r, l = parse_quantity(req), parse_quantity(lim)
            if r is None or l is None:
                error(obj, f"resources {res}: cannot read {req!r} / {lim!r}")
            elif r > l:
                error(obj, f"resources {res}: request {req} exceeds limit {lim}")

    def service_object(self, svc: str, port: int, pod_labels: dict) -> None:
        error = self.report.error
        service = self.objs.get("Service", svc)
        if not service:
            error(None, f"no Service {svc}")
            return
        spec = service.get("spec") or {}
        if spec.get("type", "ClusterIP") != "ClusterIP":
            error(service, "type must be ClusterIP")
        if not spec.get("selector") or not selects(spec["selector"], pod_labels):
            error(service, f"selector does not select Deployment {svc}'s pods")
        grpc = [p for p in spec.get("ports") or [] if p.get("name") == "grpc"]
        if len(grpc) != 1:
            error(service, "needs one port named grpc")
            return
        p = grpc[0]
        if p.get("appProtocol") != "grpc":
            error(service, "port grpc needs appProtocol: grpc")
        if p.get("port") != port or p.get("targetPort") not in ("grpc", port):
            error(service, f"port grpc must be {port} -> targetPort grpc")

    def autoscaler(self, svc: str, replicas: int) -> int | None:
        error = self.report.error
        hpa = self.objs.get("HorizontalPodAutoscaler", svc)
        if not hpa:
            error(None, f"no HorizontalPodAutoscaler {svc}")
            return None
        spec = hpa.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        if (target.get("kind"), target.get("name")) != ("Deployment", svc):
            error(hpa, f"scaleTargetRef must be Deployment {svc}")
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
        if low > high:
            error(hpa, f"minReplicas {low} > maxReplicas {high}")
        if low != replicas:
            error(hpa, f"minReplicas {low} differs from the Deployment's replicas {replicas}: "
                       "each apply would reset the scale")
        cpu = [m for m in spec.get("metrics") or []
               if m.get("type") == "Resource" and dig(m, "resource", "name") == "cpu"]
        if not cpu or dig(cpu[0], "resource", "target", "type") != "Utilization":
            error(hpa, "needs a cpu Utilization metric")
        return low

    def disruption_budget(self, svc: str, pod_labels: dict, min_pods: int) -> None:
        pdb = self.objs.get("PodDisruptionBudget", svc)
        if not pdb:
            if min_pods >= 2:
                self.report.error(None, f"no PodDisruptionBudget {svc} although it runs {min_pods} replicas")
            return
        spec = pdb.get("spec") or {}
        if not selects(spec.get("selector"), pod_labels):
            self.report.error(pdb, f"selector does not select Deployment {svc}'s pods")
        need = spec.get("minAvailable")
        if isinstance(need, int) and need >= min_pods:
            self.report.error(pdb, f"minAvailable {need} with {min_pods} replicas blocks every voluntary eviction (node drains)")

    def migration_job(self, svc: str, server: dict, server_env: dict) -> dict | None:
        error = self.report.error
        jobs = [j for j in self.objs.of("Job") if re.fullmatch(rf"{re.escape(svc)}-migrate(-.+)?", dig(j, "metadata", "name", default=""))]
        if len(jobs) != 1:
            error(None, f"expected one Job {svc}-migrate[-<release>], found {len(jobs)}")
            return None
        job = jobs[0]
        pod = dig(job, "spec", "template", "spec", default={})
        containers = pod.get("containers") or []
        if len(containers) != 1:
            error(job, "expected one container")
            return job
        c = containers[0]
        if (c.get("command") or [])[:1] != [svc] or c.get("args") != ["migrate"]:
            error(job, f"must run `{svc} migrate` (command [{svc}], args [migrate])")
        if c.get("image") != server.get("image"):
            error(job, f"image {c.get('image')} differs from the Deployment's {server.get('image')}")
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            error(job, "restartPolicy must be Never or OnFailure")
        env = self.environment(job, c)
        ref = next((dig(i, "valueFrom", "secretKeyRef") for i in c.get("env") or [] if i.get("name") == "PGPASSWORD"), None)
        if not ref or (ref.get("name"), ref.get("key")) != (f"{svc}-db-credentials", "password"):
            error(job, f"PGPASSWORD must come from Secret {svc}-db-credentials key password: the owner's, "
                       "for DATABASE_OWNER_URL (DATABASE_URL only names the runtime role it grants)")
        if "DATABASE_URL" not in env:
            error(job, "DATABASE_URL is not set")
        if not env.get("DATABASE_OWNER_URL"):
            error(job, "DATABASE_OWNER_URL is not set: the owner role migrates")
        self.job_owner_url[svc] = (job, env.get("DATABASE_OWNER_URL"))
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        if not any(dig(v, "secret", "secretName") == PG_CA_SECRET for v in volumes.values()):
            error(job, f"does not mount Secret {PG_CA_SECRET} (the PostgreSQL cluster CA)")
        self.secret_refs.add((PG_CA_SECRET, None))
        version = dig(job, "metadata", "labels", "app.kubernetes.io/version")
        name = dig(job, "metadata", "name")
        if self.policy.name != "base":
            if not version:
                error(job, "has no label app.kubernetes.io/version (the release, also in its name)")
            elif name != f"{svc}-migrate-{version}":
                error(job, f"must be named {svc}-migrate-{version} (one Job per release: a Job's template "
                           "cannot change, so the next release's apply would fail)")
        for var in sorted(set(env) - set(self.src.env_vars) - set(self.src.service_vars.get(svc, [])) - CLIENT_LIBRARY_VARS):
            error(job, f"{var} is not a variable {svc} reads (typo?); `{svc} vars` lists them")
        for var, value in env.items():
            if var not in ("DATABASE_URL", "PGPASSWORD") and var in server_env and server_env[var] != value:
                error(job, f"{var}={value!r} differs from the Deployment's {server_env[var]!r}")
        self.hardening(job, pod, c)
        return job

    def network_policy(self, svc: str, port: int, pod_labels: dict, job: dict | None) -> None:
        """The service's own policy: gRPC in from the named gateway namespaces only; out to
        kube-dns, the PostgreSQL instances, the Kafka brokers and the collector only. (The
        rules every policy obeys, whatever it selects, are in peers().)"""
        error = self.report.error
        policy = self.objs.get("NetworkPolicy", svc)
        if not policy:
            error(None, f"no NetworkPolicy {svc}")
            return
        spec = policy.get("spec") or {}
        if not selects(spec.get("podSelector"), pod_labels):
            error(policy, f"podSelector does not select Deployment {svc}'s pods")
        if job and not selects(spec.get("podSelector"), dig(job, "spec", "template", "metadata", "labels")):
            error(policy, f"podSelector does not select Job {svc}-migrate's pods (it needs PostgreSQL egress)")
        if set(spec.get("policyTypes") or []) != {"Ingress", "Egress"}:
            error(policy, "policyTypes must be Ingress and Egress")
        gateways = set()
        for rule in spec.get("ingress") or []:
            ports = {(p.get("port"), p.get("protocol", "TCP")) for p in rule.get("ports") or []}
            if ports != {(port, "TCP")} and ports != {("grpc", "TCP")}:
                error(policy, f"an ingress rule opens {sorted(ports, key=str)}, not only the gRPC port {port}")
            for peer in rule.get("from") or []:
                named = named_namespaces(peer.get("namespaceSelector"))
                if "podSelector" in peer or not named:
                    error(policy, f"ingress peer {peer} is not a gateway namespace named by {NAME_LABEL}")
                gateways |= named or set()
        if not gateways:
            error(policy, f"no ingress to port {port} from the gateway namespaces (named by {NAME_LABEL})")
        wanted = {
            "DNS (kube-dns in kube-system, 53/UDP and 53/TCP)": lambda peer, ports: (
                named_namespaces(peer.get("namespaceSelector")) == {"kube-system"}
                and dig(peer, "podSelector", "matchLabels", "k8s-app") == "kube-dns"
                and {(53, "UDP"), (53, "TCP")} <= ports),
            f"PostgreSQL (the pods of {PG_CLUSTER}, 5432)": lambda peer, ports: (
                "namespaceSelector" not in peer
                and dig(peer, "podSelector", "matchLabels", "cnpg.io/cluster") == PG_CLUSTER
                and (5432, "TCP") in ports),
            f"Kafka (the brokers of {KAFKA_CLUSTER} in namespace {KAFKA_NAMESPACE}, {KAFKA_TLS_PORT})": lambda peer, ports: (
                named_namespaces(peer.get("namespaceSelector")) == {KAFKA_NAMESPACE}
                and dig(peer, "podSelector", "matchLabels", "strimzi.io/cluster") == KAFKA_CLUSTER
                and (KAFKA_TLS_PORT, "TCP") in ports),
            "the OpenTelemetry collector's namespace (4317)": lambda peer, ports: (
                bool(named_namespaces(peer.get("namespaceSelector"))) and (4317, "TCP") in ports),
        }
        found = set()
        for rule in spec.get("egress") or []:
            ports = {(p.get("port"), p.get("protocol", "TCP")) for p in rule.get("ports") or []}
            for peer in rule.get("to") or []:
                matched = [name for name, test in wanted.items() if test(peer, ports)]
                if not matched:
                    error(policy, f"egress to {peer} on {sorted(ports, key=str)} is more than the service needs")
                found |= set(matched)
        for missing in wanted.keys() - found:
            error(policy, f"no egress to {missing}")

    def peers(self, policy: dict) -> None:
        """Every NetworkPolicy: no ingress from every pod of the namespace (or of the
        cluster), no egress rule without peers, no egress to any IP, every rule with ports."""
        error = self.report.error
        spec = policy.get("spec") or {}
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                peers = rule.get(key)
                if not peers:
                    error(policy, f"an {direction} rule without peers ({key}) admits {'every source' if direction == 'ingress' else 'any destination'}")
                if not rule.get("ports"):
                    error(policy, f"an {direction} rule without ports admits every port")
                for peer in peers or []:
                    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
                    if "ipBlock" in peer:
                        cidr = str(dig(peer, "ipBlock", "cidr", default=""))
                        prefix = cidr.rpartition("/")[2]
                        if direction == "egress" and (not prefix.isdigit() or int(prefix) < 8):
                            error(policy, f"egress to {cidr}: any IP (a whole range); name the addresses")
                        elif direction == "ingress":
                            error(policy, f"ingress from {cidr}: addresses, not named peers")
                    elif namespaces is None and pods == {}:
                        error(policy, f"{direction} {'from' if direction == 'ingress' else 'to'} every pod of the namespace (podSelector: {{}})")
                    elif namespaces is not None and not named_namespaces(namespaces):
                        error(policy, f"{direction} peer {peer} does not name its namespace ({NAME_LABEL})")

    def default_deny(self) -> None:
        policy = next((p for p in self.objs.of("NetworkPolicy")
                       if dig(p, "spec", "podSelector") == {} and not dig(p, "spec", "ingress")
                       and not dig(p, "spec", "egress")
                       and set(dig(p, "spec", "policyTypes", default=[])) == {"Ingress", "Egress"}), None)
        if not policy:
            self.report.error(None, "no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rule)")

    def namespace(self) -> None:
        ns = self.objs.get("Namespace", NAMESPACE)
        if not ns:
            return
        labels = dig(ns, "metadata", "labels", default={})
        if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
            self.report.error(ns, "must enforce Pod Security \"restricted\" (label pod-security.kubernetes.io/enforce)")

    # ---- the image
    def image(self, image: str) -> None:
        name, _, digest = image.partition("@")
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        if self.policy.pinned_image and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            self.report.error(None, f"image {image!r} is not pinned by digest (@sha256:…): a tag{' ' + tag if tag else ''} can be moved")

    # ---- Kafka
    def topics(self) -> None:
        error = self.report.error
        topics = {dig(t, "spec", "topicName"): t for t in self.objs.of("KafkaTopic")}
        wanted = [t for base in self.src.topics for t in (base, f"{base}.dlq")]
        for topic in wanted:
            if topic not in topics:
                error(None, f"no KafkaTopic for {topic} (proto/src/topics.rs)")
        for topic, obj in topics.items():
            if topic is not None and topic not in wanted:
                error(obj, f"topic {topic} is not in proto/src/topics.rs (nor its .dlq)")
        partitions = {v.get("KAFKA_TOPIC_PARTITIONS") for v in self.env_by_service.values()} - {None}
        for value in partitions:
            for topic, obj in topics.items():
                if str(dig(obj, "spec", "partitions")) != value:
                    error(obj, f"partitions {dig(obj, 'spec', 'partitions')} differ from KAFKA_TOPIC_PARTITIONS={value}")
        # A consumer must still find an event's id in its inbox when it reads the event again:
        # replayed (up to OUTBOX_RETENTION after it was written) and then re-read from the
        # topic (up to retention.ms after that).
        replayable = max((span_ms(v.get("OUTBOX_RETENTION")) or 0 for v in self.env_by_service.values()), default=0)
        for svc, env in self.env_by_service.items():
            inbox = span_ms(env.get("INBOX_RETENTION"))
            for topic, obj in topics.items():
                kept = dig(obj, "spec", "config", "retention.ms")
                if inbox is None or topic is None or topic.endswith(".dlq") or kept is None:
                    continue
                if inbox <= replayable + int(kept):
                    error(obj, f"{svc}'s INBOX_RETENTION={env['INBOX_RETENTION']} is not longer than OUTBOX_RETENTION "
                               f"({replayable} ms, the longest) plus retention.ms {kept}: a replayed event re-read "
                               "from the topic would be applied again")

    def kafka_users(self) -> None:
        """One KafkaUser per service, its ACLs exactly what the service's binary says it reads
        and writes (behind its KAFKA_TOPIC_PREFIX), nothing that creates, deletes or alters."""
        error = self.report.error
        expected_users = {f"{svc}-kafka" for svc in self.src.services}
        for user in self.objs.of("KafkaUser"):
            if dig(user, "metadata", "name") not in expected_users:
                error(user, "is no service's KafkaUser (<service>-kafka)")
        for svc in self.src.services:
            user = self.objs.get("KafkaUser", f"{svc}-kafka")
            if not user:
                error(None, f"no KafkaUser {svc}-kafka (the service's Kafka identity)")
                continue
            spec = user.get("spec") or {}
            if dig(spec, "authentication", "type") not in ("tls", "scram-sha-512"):
                error(user, "spec.authentication.type must be tls or scram-sha-512")
            if dig(spec, "authorization", "type") != "simple":
                error(user, "spec.authorization.type must be simple")
            prefix = (self.env_by_service.get(svc) or {}).get("KAFKA_TOPIC_PREFIX") or ""
            reads, writes = self.src.kafka.get(svc, ([], []))
            contract = set(self.src.topics) | {f"{t}.dlq" for t in self.src.topics}
            for topic in sorted({t for t, _ in reads} | set(writes)):
                if topic not in contract:
                    error(user, f"`{svc} topics` uses {topic}, which is not in proto/src/topics.rs (nor its .dlq)")
            want = set()
            for topic, group in reads:
                want |= {("topic", prefix + topic, "Read"), ("topic", prefix + topic, "Describe"),
                         ("group", prefix + group, "Read")}
            for topic in writes:
                want |= {("topic", prefix + topic, "Write"), ("topic", prefix + topic, "Describe")}
            have = set()
            for acl in dig(spec, "authorization", "acls", default=[]):
                resource = acl.get("resource") or {}
                kind, name = resource.get("type"), resource.get("name")
                if resource.get("patternType", "literal") != "literal":
                    error(user, f"ACL on {kind} {name}: patternType must be literal (a prefix grants more)")
                if kind not in ("topic", "group"):
                    error(user, f"ACL on {kind} {name or ''}: a service holds topic and group ACLs only")
                if acl.get("type", "allow") != "allow" or acl.get("host", "*") != "*":
                    error(user, f"ACL on {kind} {name}: only allow rules for any host")
                operations = list(acl.get("operations") or []) + ([acl["operation"]] if acl.get("operation") else [])
                for operation in operations:
                    if operation in FORBIDDEN_KAFKA_OPERATIONS:
                        error(user, f"ACL on {kind} {name} grants {operation}: no service creates, deletes or alters")
                    have.add((kind, name, operation))
            source = f"`{svc} topics`"
            for kind, name, operation in sorted(want - have):
                error(user, f"lacks {operation} on {kind} {name} ({source} uses it)")
            for kind, name, operation in sorted(have - want):
                if operation not in FORBIDDEN_KAFKA_OPERATIONS and kind in ("topic", "group"):
                    error(user, f"grants {operation} on {kind} {name}, which {source} does not use")

    # ---- PostgreSQL
    def postgres(self) -> None:
        error = self.report.error
        cluster = self.objs.get("Cluster", PG_CLUSTER)
        if not cluster:
            error(None, f"no CloudNativePG Cluster {PG_CLUSTER}")
            return
        spec = cluster.get("spec") or {}
        initdb = dig(spec, "bootstrap", "initdb", default={})
        databases = {}  # database -> (owner, how)
        if initdb.get("database"):
            databases[initdb["database"]] = (initdb.get("owner"), "bootstrap.initdb")
        for db in self.objs.of("Database"):
            if dig(db, "spec", "cluster", "name") != PG_CLUSTER:
                error(db, f"spec.cluster.name must be {PG_CLUSTER}")
            name = dig(db, "spec", "name")
            if name in databases:
                error(db, f"database {name} is declared twice")
            databases[name] = (dig(db, "spec", "owner"), describe(db))
        roles = {}  # role -> credentials Secret
        if initdb.get("owner"):
            roles[initdb["owner"]] = dig(initdb, "secret", "name")
        for role in dig(spec, "managed", "roles", default=[]):
            if role.get("ensure", "present") == "present":
                if not role.get("login"):
                    error(cluster, f"managed role {role.get('name')} needs login: true")
                roles[role.get("name")] = dig(role, "passwordSecret", "name")
        for svc in self.src.services:
            want = svc.replace("-", "_")
            if want not in databases:
                error(None, f"no database {want} for {svc} (bootstrap.initdb or a Database resource)")
                continue
            owner = databases[want][0]
            if owner not in roles:
                error(cluster, f"the owner {owner} of database {want} is neither the initdb owner nor a managed role")
            credentials = roles.get(owner)
            if not credentials:
                error(cluster, f"role {owner} has no password Secret")
                continue
            self.secret_refs.add((credentials, "password"))
            runtime = f"{owner}{RUNTIME_ROLE_SUFFIX}"
            runtime_credentials = roles.get(runtime)
            if not runtime_credentials:
                error(cluster, f"no managed role {runtime} (with a password Secret): {svc}'s runtime role, "
                               "which may not delete its audit rows")
                continue
            self.secret_refs.add((runtime_credentials, "password"))
            deploy = self.objs.get("Deployment", svc)
            self.database_url(deploy, "DATABASE_URL", (self.env_by_service.get(svc) or {}).get("DATABASE_URL"),
                              want, runtime, runtime_credentials)
            job, owner_url = self.job_owner_url.get(svc, (None, None))
            if job and owner_url:
                self.database_url(job, "DATABASE_OWNER_URL", owner_url, want, owner, credentials)
        self.postgres_tls_and_backups(cluster)
        # The pools at their largest, plus one connection per migration Job.
        budget = 0
        for svc, env in self.env_by_service.items():
            hpa = self.objs.get("HorizontalPodAutoscaler", svc)
            pods = dig(hpa, "spec", "maxReplicas") or dig(self.objs.get("Deployment", svc), "spec", "replicas", default=1)
            pool = env.get("DATABASE_MAX_CONNECTIONS")
            if pool and pool.isdigit():
                budget += pods * int(pool) + 1
        raw = dig(spec, "postgresql", "parameters", "max_connections", default="100")
        if not str(raw).isdigit():
            error(cluster, f"max_connections {raw!r} is not a number")
        elif budget > int(raw) - PG_RESERVED_CONNECTIONS:
            error(cluster, f"max_connections {raw} is below what the services may open at their HPA maximum "
                           f"({budget} + {PG_RESERVED_CONNECTIONS} reserved)")

    def database_url(self, obj: dict | None, var: str, url: str | None, database: str, owner: str,
                     credentials: str) -> None:
        """`var` of `obj` names the role, the read-write service and the database, carries no
        password (PGPASSWORD comes from the role's one Secret) and verifies the server."""
        deploy = obj
        if not deploy or url is None:
            return
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as err:
            self.report.error(deploy, f"{var} is not a URL: {err}")
            return
        query = dict(q.split("=", 1) for q in parts.query.split("&") if "=" in q)
        problems = []
        if parts.scheme not in ("postgres", "postgresql"):
            problems.append("scheme must be postgres://")
        if unquote(parts.username or "") != owner:
            problems.append(f"user must be {owner}")
        if parts.password is not None:
            problems.append(f"holds a password: it belongs in Secret {credentials} only (PGPASSWORD)")
        if (parts.hostname or "").split(".")[0] != PG_RW_HOST:
            problems.append(f"host must be {PG_RW_HOST} (the read-write service)")
        if port not in (None, 5432):
            problems.append("port must be 5432")
        if parts.path.lstrip("/") != database:
            problems.append(f"database must be {database}")
        if query.get("sslmode") != "verify-full":
            problems.append("sslmode must be verify-full (TLS, the server's name checked)")
        root = query.get("sslrootcert", "")
        pod = dig(deploy, "spec", "template", "spec", default={})
        container = dig(pod, "containers", 0, default={})
        ca_volumes = {v.get("name") for v in pod.get("volumes") or [] if dig(v, "secret", "secretName") == PG_CA_SECRET}
        ca_paths = {m.get("mountPath", "").rstrip("/") + "/ca.crt" for m in container.get("volumeMounts") or []
                    if m.get("name") in ca_volumes}
        if root not in ca_paths:
            problems.append(f"sslrootcert must be the mounted cluster CA (Secret {PG_CA_SECRET}): {sorted(ca_paths) or 'not mounted'}")
        for problem in problems:
            self.report.error(deploy, f"{var}: {problem}")
        cred = self.objs.get("Secret", credentials)
        if cred and secret_value(cred, "username") != owner:
            self.report.error(cred, f"username must be {owner}")

    def postgres_tls_and_backups(self, cluster: dict) -> None:
        error = self.report.error
        spec = cluster.get("spec") or {}
        hba = [re.sub(r"\s+", " ", str(line).strip()) for line in dig(spec, "postgresql", "pg_hba", default=[])]
        for network in ("0.0.0.0/0", "::/0"):
            rule = f"hostnossl all all {network} reject"
            if rule not in hba:
                error(cluster, f"postgresql.pg_hba lacks `{rule}`: connections without TLS would be accepted")
        store = dig(spec, "backup", "barmanObjectStore")
        if self.policy.pinned_image:
            if not store or not store.get("destinationPath"):
                error(cluster, "no backup.barmanObjectStore.destinationPath: a release overlay backs up to an object store")
            if not any(dig(b, "spec", "cluster", "name") == PG_CLUSTER for b in self.objs.of("ScheduledBackup")):
                error(None, f"no ScheduledBackup of {PG_CLUSTER}")
        if store:
            for key in ("accessKeyId", "secretAccessKey"):
                name = dig(store, "s3Credentials", key, "name")
                if name:
                    self.secret_refs.add((name, dig(store, "s3Credentials", key, "key")))
        for backup in self.objs.of("ScheduledBackup"):
            if not store:
                error(backup, f"backs up {PG_CLUSTER}, which has no backup.barmanObjectStore")
        monitored = any(dig(m, "spec", "selector", "matchLabels", "cnpg.io/cluster") == PG_CLUSTER for m in self.objs.of("PodMonitor"))
        if not monitored and not self.policy.self_contained:  # a dev cluster may lack Prometheus
            error(None, f"no PodMonitor selecting cnpg.io/cluster={PG_CLUSTER}")
        policy = next((p for p in self.objs.of("NetworkPolicy")
                       if dig(p, "spec", "podSelector", "matchLabels", "cnpg.io/cluster") == PG_CLUSTER), None)
        if not policy:
            error(None, f"no NetworkPolicy for the pods of {PG_CLUSTER}")
            return
        services = set(self.src.services)
        for rule in dig(policy, "spec", "ingress", default=[]):
            ports = {(p.get("port"), p.get("protocol", "TCP")) for p in rule.get("ports") or []}
            for peer in rule.get("from") or []:
                labels = dig(peer, "podSelector", "matchLabels", default={})
                names = {v for e in dig(peer, "podSelector", "matchExpressions", default=[])
                         if e.get("key") == "app.kubernetes.io/name" and e.get("operator") == "In" for v in e.get("values") or []}
                names |= {labels["app.kubernetes.io/name"]} if "app.kubernetes.io/name" in labels else set()
                same_ns = "namespaceSelector" not in peer
                if same_ns and labels.get("cnpg.io/cluster") == PG_CLUSTER:
                    continue  # replication
                if same_ns and names and names <= services and ports == {(5432, "TCP")}:
                    continue  # the services and their migration Jobs
                if not same_ns and named_namespaces(peer.get("namespaceSelector")):
                    continue  # the operator, Prometheus: named namespaces (peers() checks the rest)
                error(policy, f"ingress from {peer} on {sorted(ports, key=str)}: only the services, the operator and replication")

    # ---- Secrets
    def secrets(self) -> None:
        tokens_secret = self.objs.get("Secret", AUTH_SECRET[0])
        if tokens_secret:
            spec = secret_value(tokens_secret, AUTH_SECRET[1])
            if spec is None:
                self.report.error(tokens_secret, f"no key {AUTH_SECRET[1]}")
            else:
                for problem in check_tokens(spec, self.src):
                    self.report.error(tokens_secret, f"{AUTH_SECRET[1]}: {problem}")
        external = set()
        for name, key in sorted(self.secret_refs, key=str):
            secret = self.objs.get("Secret", name)
            if secret is not None and provided_secret(name):
                self.report.error(secret, f"is written by {provided_secret(name)}, not by an overlay")
            elif secret is None and provided_secret(name):
                continue
            elif secret is None:
                external.add(name)
                if self.policy.self_contained:
                    self.report.error(None, f"Secret {name} is referenced but not rendered")
            elif key and secret_value(secret, key) is None:
                self.report.error(secret, f"has no key {key}, which is referenced")
        if external and not self.policy.self_contained:
            self.report.note(f"Secrets to create in the cluster: {', '.join(sorted(external))}")


def token_digest(key: str) -> tuple[str | None, str | None]:
    """The digest an AUTH_TOKENS key stands for (platform::auth::tokens::parse_key), or why not."""
    if key.startswith("sha256:"):
        hexdigits = key[len("sha256:"):]
        if len(hexdigits) == 64 and all(c in string.hexdigits for c in hexdigits):
            return hexdigits.lower(), None
        return None, "sha256: must be followed by 64 hexadecimal digits (a SHA-256 digest)"
    b64 = string.ascii_letters + string.digits + "-_"
    if key and all(c in string.hexdigits for c in key):
        size = len(key) // 2
    elif key.rstrip("=") and all(c in b64 for c in key.rstrip("=")):
        size = len(key.rstrip("=")) * 6 // 8
    else:
        size = 0
    if size < 32 or len(set(key)) < 10:
        return None, ("a static token must carry at least 32 random bytes (43+ base64url or 64+ "
                      "hexadecimal characters); make one with `haicheng token new` and configure its sha256: digest")
    return hashlib.sha256(key.encode()).hexdigest(), None


def check_tokens(spec: str, src: Source) -> list[str]:
    """The rules of platform::auth::TokenTable::parse, plus known scopes."""
    problems, seen = [], set()
    for index, entry in enumerate(e.strip() for e in spec.split(";") if e.strip()):
        at = f"entry {index + 1}"
        key, sep, rest = entry.partition("=")
        if not sep:
            problems.append(f"{at}: expected KEY=KIND:NAME:SCOPES")
            continue
        kind, _, rest = rest.partition(":")
        name, _, scopes = rest.partition(":")
        if kind.strip() == "enterprise":
            problems.append(f"{at}: enterprises authenticate with JWTs (AUTH_JWT_ISSUER), not static tokens")
        elif kind == "department":
            if src.departments and name not in src.departments:
                problems.append(f"{at}: unknown department {name!r}")
        elif kind != "service" or not name:
            problems.append(f"{at}: KIND must be service or department, followed by :NAME")
        digest, problem = token_digest(key.strip())
        if problem:
            problems.append(f"{at}: {problem}")
        elif digest in seen:
            problems.append(f"{at}: the token is listed twice")
        seen.add(digest)
        for scope in (s.strip() for s in scopes.split(",") if s.strip()):
            if src.scopes and scope not in src.scopes:
                problems.append(f"{at}: unknown scope {scope!r}")
    if not seen:
        problems.append("no token")
    return problems


# --------------------------------------------------------------------------- the repository


def check_repository(src: Source, report: Report, hadolint: str | None) -> None:
    report.where = "deploy/Dockerfile"
    repo = src.repo
    for path in src.docker_copies:
        if not (repo / path).exists():
            report.error(None, f"COPY {path}: no such path in the repository (the build context)")
    for member in src.members:
        if not any(member == c.rstrip("/") or member.startswith(c.rstrip("/") + "/") for c in src.docker_copies):
            report.error(None, f"workspace member {member} is not copied into the builder (cargo --locked needs it)")
    for name in ("Cargo.toml", "Cargo.lock"):
        if name not in src.docker_copies:
            report.error(None, f"{name} is not copied into the builder")
    for svc in list(src.services) + ["haicheng"]:
        if svc not in src.docker_bins:
            report.error(None, f"cargo build does not build --bin {svc}")
    if src.docker_uid != APP_UID:
        report.error(None, f"USER must be the numeric uid {APP_UID}")
    if hadolint:
        # DL3008 (pin apt package versions): Debian stable's security updates are wanted.
        run = subprocess.run([hadolint, "--no-color", "--ignore", "DL3008", "--failure-threshold", "warning",
                              str(repo / "deploy/Dockerfile")], capture_output=True, text=True)
        if run.returncode != 0:
            for line in (run.stdout + run.stderr).strip().splitlines():
                report.error(None, f"hadolint: {line}")

    report.where = "deploy/README.md"
    readme = (repo / "deploy/README.md")
    text = readme.read_text() if readme.exists() else ""
    for var in src.env_vars:
        if not re.search(rf"\b{var}\b", text):
            report.error(None, f"{var} is not documented")


# --------------------------------------------------------------------------- cluster prerequisites


# The metrics the dashboard and the alert rules must cover: the instruments' Prometheus names.
OBSERVED = {
    "request rate, errors": "rpc_server_requests_total",
    "latency": "rpc_server_duration_seconds_bucket",
    "outbox backlog": "outbox_backlog",
    "consumer lag": "consumer_lag",
    "DLQ arrivals": 'outcome="dead_lettered"',
    "re-rank duration": "classification_rerank_duration_seconds_bucket",
    "overdue notices": "notices_overdue",
}


def check_kafka_resource(kafka: dict | None, services: list[str], report: Report) -> None:
    """The Kafka cluster the KafkaUsers need: a TLS listener that authenticates clients and
    admits the services' pods only, ACL authorisation, operators watching haicheng."""
    if not isinstance(kafka, dict) or kafka.get("kind") != "Kafka":
        report.error(None, "no Kafka resource")
        return
    spec = kafka.get("spec") or {}
    if dig(spec, "kafka", "authorization", "type") != "simple":
        report.error(kafka, "spec.kafka.authorization.type must be simple (the KafkaUsers' ACLs)")
    listeners = [l for l in dig(spec, "kafka", "listeners", default=[]) if l.get("port") == KAFKA_TLS_PORT]
    if not listeners:
        report.error(kafka, f"no listener on {KAFKA_TLS_PORT}, the port the services use")
    for listener in listeners:
        if listener.get("tls") is not True:
            report.error(kafka, f"listener {listener.get('name')}: tls must be true")
        if dig(listener, "authentication", "type") not in ("tls", "scram-sha-512"):
            report.error(kafka, f"listener {listener.get('name')}: authentication must be tls or scram-sha-512")
        named = set()
        for peer in listener.get("networkPolicyPeers") or []:
            if named_namespaces(peer.get("namespaceSelector")) != {NAMESPACE}:
                report.error(kafka, f"listener {listener.get('name')}: peer {peer} is not in namespace {NAMESPACE}")
            for e in dig(peer, "podSelector", "matchExpressions", default=[]):
                if e.get("key") == "app.kubernetes.io/name":
                    named |= set(e.get("values") or [])
            named |= {v for k, v in dig(peer, "podSelector", "matchLabels", default={}).items() if k == "app.kubernetes.io/name"}
        if named != set(services):
            report.error(kafka, f"listener {listener.get('name')}: networkPolicyPeers name {sorted(named)}, "
                                f"not the services {sorted(services)}")
    for operator in ("topicOperator", "userOperator"):
        if dig(spec, "entityOperator", operator, "watchedNamespace") != NAMESPACE:
            report.error(kafka, f"entityOperator.{operator}.watchedNamespace must be {NAMESPACE} (the KafkaTopics and KafkaUsers)")


def check_observability(root: Path, report: Report) -> None:
    """The collector's configuration, the ServiceMonitor, the alert rules and the dashboard."""

    def load(name: str):
        try:
            return yaml.safe_load((root / name).read_text())
        except (OSError, yaml.YAMLError) as err:
            report.error(None, f"{name}: {err}")
            return None

    cm = load("collector.yaml")
    try:
        config = yaml.safe_load(dig(cm, "data", "collector.yaml", default="")) or {}
    except yaml.YAMLError as err:
        report.error(None, f"collector.yaml: data.collector.yaml is not YAML: {err}")
        config = {}
    exporters = config.get("exporters") or {}
    pipelines = dig(config, "service", "pipelines", default={})
    if not pipelines:
        report.error(None, "collector.yaml: no pipelines")
    for name, pipeline in pipelines.items():
        procs = pipeline.get("processors") or []
        if procs[:1] != ["memory_limiter"]:
            report.error(None, f"collector.yaml: pipeline {name}: memory_limiter must come first")
        if procs[-1:] != ["batch"]:
            report.error(None, f"collector.yaml: pipeline {name}: batch must come last")
        if "k8sattributes" not in procs:
            report.error(None, f"collector.yaml: pipeline {name}: no k8sattributes")
        for exporter in pipeline.get("exporters") or []:
            if exporter not in exporters:
                report.error(None, f"collector.yaml: pipeline {name}: exporter {exporter} is not configured")
    for name, exporter in exporters.items():
        if name.split("/")[0] in ("otlp", "otlphttp"):
            tls = (exporter or {}).get("tls") or {}
            endpoint = str((exporter or {}).get("endpoint", ""))
            if tls.get("insecure") or endpoint.startswith("http://"):
                report.error(None, f"collector.yaml: exporter {name} must use TLS")
    if "prometheus" not in dig(pipelines, "metrics", "exporters", default=[]):
        report.error(None, "collector.yaml: the metrics pipeline does not export to prometheus (the ServiceMonitor scrapes it)")
    monitor = load("servicemonitor.yaml")
    if dig(monitor, "kind") != "ServiceMonitor" or not dig(monitor, "spec", "endpoints"):
        report.error(None, "servicemonitor.yaml: no ServiceMonitor with endpoints")
    rules = load("alerts.yaml")
    exprs = " ".join(str(r.get("expr", "")) for g in dig(rules, "spec", "groups", default=[]) for r in g.get("rules") or [])
    try:
        dashboard = json.loads((root / "dashboard.json").read_text())
    except (OSError, ValueError) as err:
        report.error(None, f"dashboard.json: {err}")
        dashboard = {}
    targets = " ".join(t.get("expr", "") for panel in dashboard.get("panels") or [] for t in panel.get("targets") or [])
    for what, metric in OBSERVED.items():
        if metric not in exprs:
            report.error(None, f"alerts.yaml: no alert on {what} ({metric})")
        if metric not in targets:
            report.error(None, f"dashboard.json: no panel for {what} ({metric})")
    for needed in ("rpc_method", "principal"):
        if f"{needed}" not in targets:
            report.error(None, f"dashboard.json: requests are not broken down by {needed}")


# --------------------------------------------------------------------------- main


def render(kubectl: str, path: Path) -> str:
    run = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(run.stderr.strip() or f"kubectl kustomize exited {run.returncode}")
    return run.stdout


def policy_for(name: str) -> Policy:
    leaf = name.rsplit("/", 1)[-1]
    if name == "base":
        return Policy(name, self_contained=False, pinned_image=False)
    if leaf.startswith("dev"):
        return Policy(name, self_contained=True, pinned_image=False)
    return Policy(name, self_contained=False, pinned_image=True)


def check_rendering(src: Source, schemas: Schemas | None, report: Report, name: str, docs: list) -> Objects:
    """Every check of one rendering (base or an overlay); errors go to `report`."""
    seen = set()
    for obj in docs:
        if not isinstance(obj, dict):
            report.error(None, f"a rendered document is not an object: {obj!r:.60}")
            continue
        key = (obj.get("kind"), dig(obj, "metadata", "namespace"), dig(obj, "metadata", "name"))
        if key in seen:
            report.error(obj, "rendered twice")
        seen.add(key)
        if schemas is not None:
            check_object(obj, report, schemas)
    objects = Objects([d for d in docs if isinstance(d, dict)])
    PlatformChecks(src, objects, report, policy_for(name)).run()
    return objects


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--hadolint")
    parser.add_argument("--k8s-versions", default="1.30.0 1.37.0")
    parser.add_argument("--out", type=Path, help="write each rendering to DIR/<name>.yaml")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    repo = args.repo.resolve()
    src = read_source(repo)
    schemas = Schemas(args.k8s_versions.split())
    root = repo / "deploy/k8s"
    targets = [root / "base"] + sorted(p.parent for p in (root / "overlays").glob("*/kustomization.yaml"))
    report = Report()
    for target in targets:
        name = str(target.relative_to(root))
        report.where = f"deploy/k8s/{name}"
        try:
            text = render(args.kubectl, target)
        except RuntimeError as err:
            report.error(None, f"kubectl kustomize failed: {err}")
            continue
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name.replace('/', '-')}.yaml").write_text(text)
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as err:
            report.error(None, f"the rendering is not YAML: {err}")
            continue
        before = len(report.errors)
        objects = check_rendering(src, schemas, report, name, docs)
        custom = sum(1 for d in objects.items if d.get("apiVersion", "").split("/")[0] in CRD_GROUPS)
        found = len(report.errors) - before
        print(f"{report.where}: {len(docs)} objects ({len(docs) - custom} against the Kubernetes "
              f"{' and '.join(schemas.kv.major_minor(v) for v in schemas.versions)} schemas, {custom} custom "
              f"resources), {'OK' if not found else f'{found} error(s)'}")
    before = len(report.errors)
    report.where = "deploy/strimzi/kafka.yaml"
    try:
        kafka = yaml.safe_load((repo / "deploy/strimzi/kafka.yaml").read_text())
    except (OSError, yaml.YAMLError) as err:
        report.error(None, str(err))
    else:
        check_kafka_resource(kafka, list(src.services), report)
    report.where = "deploy/observability"
    check_observability(repo / "deploy/observability", report)
    found = len(report.errors) - before
    print(f"deploy/strimzi, deploy/observability: {'OK' if not found else f'{found} error(s)'}")
    before = len(report.errors)
    check_repository(src, report, args.hadolint)
    found = len(report.errors) - before
    print(f"deploy/Dockerfile, deploy/README.md: {'OK' if not found else f'{found} error(s)'}"
          + ("" if args.hadolint else " (hadolint not available on this machine: skipped)"))
    if args.verbose or report.errors:
        for note in report.notes:
            print(f"note: {note}")
    if report.errors:
        print(f"\n{len(report.errors)} error(s):", file=sys.stderr)
        for line in report.errors:
            print(f"  {line}", file=sys.stderr)
        return 1
    own = sum(len(v) for v in src.service_vars.values())
    print(f"deploy/check: all passed ({len(src.env_vars)} platform and {own} service variables, {len(src.services)} services, "
          f"{len(src.topics)} topics checked)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as err:  # a bug here, not in the manifests
        print(f"check: internal error: {err!r}", file=sys.stderr)
        raise

"""The documented service-specification fields, as data, and a check of a spec against them.

Source: the service specification reference (docs.snowflake.com/en/developer-guide/
snowpark-container-services/specification-reference; spcs_facts.md §5) and, for stageConfig,
"Using Snowflake stage volumes with services". A key that is not listed here is not in the
documentation, so a rendered spec that uses one is a bug in the pack, not a feature.
"""

from __future__ import annotations

import re

# path -> allowed keys. "[]" marks a list of mappings. Subtrees in OPAQUE are not walked.
ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"spec", "capabilities", "serviceRoles"}),
    "spec": frozenset({"containers", "endpoints", "volumes", "logExporters", "platformMonitor",
                       "resourceManagement"}),
    "spec.containers[]": frozenset({"name", "image", "command", "args", "env", "readinessProbe", "livenessProbe",
                                    "volumeMounts", "resources", "mountSessionToken", "sessionTokenConfig",
                                    "secrets"}),
    "spec.containers[].readinessProbe": frozenset({"port", "path", "periodSeconds", "failureThreshold"}),
    "spec.containers[].livenessProbe": frozenset({"port", "path", "periodSeconds", "failureThreshold"}),
    "spec.containers[].volumeMounts[]": frozenset({"name", "mountPath"}),
    "spec.containers[].resources": frozenset({"requests", "limits"}),
    "spec.containers[].resources.requests": frozenset({"memory", "cpu", "nvidia.com/gpu"}),
    "spec.containers[].resources.limits": frozenset({"memory", "cpu", "nvidia.com/gpu"}),
    "spec.containers[].sessionTokenConfig": frozenset({"path", "permission", "mountConnectionConfig"}),
    "spec.containers[].secrets[]": frozenset({"snowflakeSecret", "directoryPath", "envVarName", "secretKeyRef"}),
    "spec.containers[].secrets[].snowflakeSecret": frozenset({"objectName", "objectReference"}),
    "spec.endpoints[]": frozenset({"name", "port", "portRange", "public", "protocol", "corsSettings"}),
    "spec.volumes[]": frozenset({"name", "source", "size", "uid", "gid", "blockConfig", "stageConfig"}),
    "spec.volumes[].blockConfig": frozenset({"initialContents", "iops", "throughput", "encryption",
                                             "snapshotOnDelete", "snapshotDeleteAfter"}),
    "spec.volumes[].blockConfig.initialContents": frozenset({"fromSnapshot"}),
    "spec.volumes[].stageConfig": frozenset({"name", "metadataCache", "resources"}),
    "spec.volumes[].stageConfig.resources": frozenset({"requests", "limits"}),
    "spec.volumes[].stageConfig.resources.requests": frozenset({"memory", "cpu"}),
    "spec.volumes[].stageConfig.resources.limits": frozenset({"memory", "cpu"}),
    "spec.logExporters": frozenset({"eventTableConfig"}),
    "spec.logExporters.eventTableConfig": frozenset({"logLevel"}),
    "spec.platformMonitor": frozenset({"metricConfig"}),
    "spec.platformMonitor.metricConfig": frozenset({"groups"}),
    "capabilities": frozenset({"securityContext"}),
    "capabilities.securityContext": frozenset({"executeAsCaller", "enableCustomCredentials"}),
    "serviceRoles[]": frozenset({"name", "endpoints"}),
}
# Mappings whose keys are the user's own (env) or whose subtree this pack never renders.
OPAQUE = frozenset({"spec.containers[].env", "spec.resourceManagement", "spec.endpoints[].corsSettings"})
ALLOWED_VALUES: dict[str, frozenset] = {
    "spec.volumes[].source": frozenset({"local", "stage", "memory", "block"}),
    "spec.endpoints[].protocol": frozenset({"TCP", "HTTP"}),
    "spec.containers[].secrets[].secretKeyRef": frozenset({"username", "password", "secret_string"}),
    "spec.logExporters.eventTableConfig.logLevel": frozenset({"INFO", "ERROR", "NONE"}),
}
METRIC_GROUPS = frozenset({"system", "system_limits", "status", "network", "storage"})  # spcs_facts.md §4.2
_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(M|Mi|G|Gi)$")  # "a unit is required: M, Mi, G, Gi"


def check_spec(doc: object) -> list[str]:
    """Every way doc departs from the documented fields and rules; [] when it is clean. A spec may
    come from a user's file, so every part is type-checked before it is used."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["the specification must be a mapping"]
    _walk(doc, "", problems)
    spec = _mapping(doc.get("spec"), "spec", problems)
    containers = _mappings(spec.get("containers"), "spec.containers", problems)
    if not containers:
        problems.append("spec.containers: at least one container is required")
    volume_list = _mappings(spec.get("volumes"), "spec.volumes", problems)
    volume_names = {repr(v.get("name")) for v in volume_list}  # repr: a hand-written name may be unhashable
    endpoints = _mappings(spec.get("endpoints"), "spec.endpoints", problems)
    for where, named in [("spec.containers", containers), ("spec.endpoints", endpoints),
                         ("spec.volumes", volume_list)]:
        names = [item.get("name") for item in named]
        for name in names:
            if not isinstance(name, str) or not _NAME.match(name):
                problems.append(f"{where}: name {name!r} is not lower-case alphanumeric/'-', starting with a letter")
        if len(names) != len(set(map(repr, names))):
            problems.append(f"{where}: names must be unique")
    for container in containers:
        cname = container.get("name")
        where = f"container {cname!r}"
        for key in ("name", "image"):
            if not container.get(key):
                problems.append(f"{where}: {key} is required")
        problems += _check_resources(_mapping(container.get("resources"), f"{where}: resources", problems), where)
        for mount in _mappings(container.get("volumeMounts"), f"{where}: volumeMounts", problems):
            if repr(mount.get("name")) not in volume_names:
                problems.append(f"{where}: volumeMount {mount.get('name')!r} names no volume")
        for secret in _mappings(container.get("secrets"), f"{where}: secrets", problems):
            if ("envVarName" in secret) == ("directoryPath" in secret):
                problems.append(f"{where}: a secret needs exactly one of envVarName and directoryPath")
            if "secretKeyRef" in secret and "envVarName" not in secret:
                problems.append(f"{where}: secretKeyRef is allowed only with envVarName")
    for volume in volume_list:
        name, source = volume.get("name"), volume.get("source")
        if source in ("memory", "block") and "size" not in volume:
            problems.append(f"volume {name!r}: size is required for {source} volumes")
        if source == "stage":
            stage = _mapping(volume.get("stageConfig"), f"volume {name!r}: stageConfig", problems).get("name")
            if not isinstance(stage, str) or not stage.startswith("@"):
                problems.append(f"volume {name!r}: stageConfig.name must be the stage, e.g. \"@db.schema.stage\"")
        if isinstance(source, str) and source.startswith("@"):
            problems.append(f"volume {name!r}: the '@stage' source form is deprecated; use source: stage")
    monitor = _mapping(spec.get("platformMonitor"), "spec.platformMonitor", problems)
    metric_config = _mapping(monitor.get("metricConfig"), "spec.platformMonitor.metricConfig", problems)
    groups = metric_config.get("groups") or []
    groups = groups if isinstance(groups, list) else [groups]
    problems += [f"platformMonitor: unknown metric group {g!r}" for g in groups if g not in METRIC_GROUPS]
    return problems


def _mapping(value: object, where: str, problems: list[str]) -> dict:
    """value when it is a mapping; {} (and a problem) when it is something else; {} when absent."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        return {}
    return value


def _mappings(value: object, where: str, problems: list[str]) -> list[dict]:
    """The mapping items of a list; a problem for a non-list or a non-mapping item."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        return []
    items = [item for item in value if isinstance(item, dict)]
    if len(items) != len(value):
        problems.append(f"{where}: every item must be a mapping")
    return items


def _check_resources(resources: dict, where: str) -> list[str]:
    problems: list[str] = []
    requests = _mapping(resources.get("requests"), f"{where}: resources.requests", problems)
    limits = _mapping(resources.get("limits"), f"{where}: resources.limits", problems)
    if requests.get("nvidia.com/gpu") != limits.get("nvidia.com/gpu"):
        problems.append(f"{where}: nvidia.com/gpu must be equal in requests and limits "
                        f"({requests.get('nvidia.com/gpu')} vs {limits.get('nvidia.com/gpu')})")
    for kind, values in (("requests", requests), ("limits", limits)):
        memory = values.get("memory")
        if memory is not None and not _MEMORY.match(str(memory)):
            problems.append(f"{where}: {kind}.memory {memory!r} needs a unit (M, Mi, G, Gi)")
    return problems


def _walk(node: object, path: str, problems: list[str]) -> None:
    if path in OPAQUE:
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, path + "[]", problems)
        return
    if path in ALLOWED_VALUES and node not in ALLOWED_VALUES[path]:
        problems.append(f"{path}: {node!r} is not one of {', '.join(sorted(ALLOWED_VALUES[path]))}")
    if not isinstance(node, dict):
        return
    allowed = ALLOWED_KEYS.get(path)
    if allowed is None:
        problems.append(f"{path or 'top level'}: a mapping where the documentation has none")
        return
    for key, value in node.items():
        child = f"{path}.{key}" if path else str(key)
        if key not in allowed:
            problems.append(f"{child}: not a documented field (allowed under {path or 'top level'}: "
                            f"{', '.join(sorted(allowed))})")
            continue
        if isinstance(value, list) and f"{child}[]" not in ALLOWED_KEYS and child not in OPAQUE:
            for item in value:  # lists of scalars (args, groups, endpoints of a role)
                if isinstance(item, dict | list):
                    problems.append(f"{child}: expected a list of values")
                elif f"{child}[]" in ALLOWED_VALUES and item not in ALLOWED_VALUES[f"{child}[]"]:
                    problems.append(f"{child}: {item!r} not allowed")
            continue
        _walk(value, child, problems)

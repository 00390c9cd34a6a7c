"""Reading the synthesized Terraform JSON: resources by type, and references resolved."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra_cdktf.config import APP_STACK, FOUNDATION_STACK

REFERENCE = re.compile(r"^\$\{(google_[a-z0-9_]+)\.([A-Za-z0-9_]+)\.([a-z_]+)\}$")

Block = dict[str, Any]

# Every name the stacks own starts with the deployment's prefix (a variable).
PREFIX = "${var.name_prefix}"
ROLE_ID = re.compile(
    r'^\$\{replace\(var\.name_prefix, "-", "_"\)\}([A-Za-z]+)\$\{var\.role_suffix\}$'
)


def prefixed(name: str) -> str:
    return f"{PREFIX}{name}"


def unprefixed(name: str) -> str:
    """``name`` without the deployment prefix, which it must have."""
    assert name.startswith(PREFIX), f"{name!r} does not start with the name prefix"
    return name.removeprefix(PREFIX)


def role_base(role_id: str) -> str:
    """``apexEdgeJanitor`` of a custom role id built by ``AppSettings.role_id``."""
    match = ROLE_ID.match(role_id)
    assert match, f"custom role id {role_id!r} lacks the name prefix or the role suffix"
    return match.group(1)


@dataclass
class Stack:
    document: Block

    def resources(self, resource_type: str) -> dict[str, Block]:
        found: dict[str, Block] = self.document.get("resource", {}).get(resource_type, {})
        return found

    def one(self, resource_type: str, **attributes: Any) -> Block:
        """The single resource of ``resource_type`` whose attributes equal ``attributes``."""
        matches = [
            block
            for block in self.resources(resource_type).values()
            if all(block.get(key) == value for key, value in attributes.items())
        ]
        assert len(matches) == 1, f"{len(matches)} {resource_type} match {attributes}"
        return matches[0]

    def resolve(self, value: str) -> tuple[str, Block]:
        """``${google_x.key.attr}`` → (``google_x``, that resource's block)."""
        match = REFERENCE.match(value)
        assert match, f"not a plain resource reference: {value!r}"
        resource_type, key, _attribute = match.groups()
        return resource_type, self.resources(resource_type)[key]


@dataclass
class Synth:
    foundation: Stack
    app: Stack
    outdir: Path
    manifest: Block
    seconds: float = field(default=0.0)

    @property
    def stacks(self) -> tuple[Stack, Stack]:
        return (self.foundation, self.app)


def load_synth(outdir: Path) -> Synth:
    def stack(name: str) -> Stack:
        path = outdir / "stacks" / name / "cdk.tf.json"
        document: Block = json.loads(path.read_text())
        return Stack(document)

    return Synth(
        foundation=stack(FOUNDATION_STACK),
        app=stack(APP_STACK),
        outdir=outdir,
        manifest=json.loads((outdir / "manifest.json").read_text()),
    )


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) pair in a JSON document, containers included."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, f"{path}[{index}]")

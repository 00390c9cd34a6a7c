"""The google provider's configuration schema, rebuilt from the pinned CDKTF bindings.

``cdktf-cdktf-provider-google`` ships a jsii assembly (``.jsii``, JSON) that
describes every resource, data source and the provider itself: a ``Config``
struct per type whose properties carry their Terraform names (the registry
link's ``#anchor``) and whether they are optional, nested structs for blocks,
and the class's getters for computed attributes. This module turns that into
the tfplugin5 ``GetProviderSchema`` response the stand-in provider serves,
so ``terraform validate`` can check argument names, required arguments,
blocks and attribute references offline.

What it cannot know: attribute types (every attribute is ``dynamic``), value
constraints, conflicts between arguments, and computed attributes inside
nested blocks. Pure: no I/O besides reading the assembly.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.standin import proto

Json = dict[str, Any]
ANCHOR = re.compile(r"/docs(?:/(?:resources|data-sources)/[a-z0-9_]+)?#([a-z0-9_]+) ")
TYPE_LINK = re.compile(r"/docs/(resources|data-sources)/([a-z0-9_]+) (google_[a-z0-9_]+)\}")
META_ARGUMENTS = {
    "connection",
    "count",
    "dependsOn",
    "forEach",
    "lifecycle",
    "provider",
    "provisioners",
}
DYNAMIC = b'"dynamic"'
NESTING_LIST = 2


@dataclass
class Block:
    attributes: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)
    """name -> (required, optional, computed)"""
    blocks: dict[str, Block] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderSchema:
    provider: Block
    resources: dict[str, Block]
    data_sources: dict[str, Block]


def assembly() -> Json:
    # Located, not imported: importing the bindings would load them into a jsii runtime.
    spec = importlib.util.find_spec("cdktf_cdktf_provider_google")
    assert spec is not None, "cdktf-cdktf-provider-google is not installed (uv sync)"
    assert spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "_jsii"
    (archive,) = folder.glob("*.jsii.tgz")
    with tarfile.open(archive) as tar:
        member = tar.extractfile("package/.jsii")
        assert member is not None
        document: Json = json.load(io.TextIOWrapper(member, encoding="utf-8"))
    return document


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _struct_of(type_ref: Json) -> str | None:
    """The struct fqn a property's type is made of (through unions and collections)."""
    if "fqn" in type_ref:
        fqn: str = type_ref["fqn"]
        return None if fqn.startswith("cdktf.") else fqn
    if "collection" in type_ref:
        return _struct_of(type_ref["collection"]["elementtype"])
    if "union" in type_ref:
        for option in type_ref["union"]["types"]:
            found = _struct_of(option)
            if found:
                return found
    return None


def _terraform_name(prop: Json) -> str:
    match = ANCHOR.search(json.dumps(prop.get("docs", {})))
    return match.group(1) if match else snake(prop["name"])


def _block(types: Json, fqn: str, *, skip: set[str], depth: int = 0) -> Block:
    block = Block()
    struct = types[fqn]
    for prop in struct.get("properties", []):
        if prop["name"] in skip:
            continue
        name = _terraform_name(prop)
        nested = _struct_of(prop["type"])
        if nested and types.get(nested, {}).get("datatype") and depth < 12:
            block.blocks[name] = _block(types, nested, skip=set(), depth=depth + 1)
        else:
            optional = bool(prop.get("optional"))
            block.attributes[name] = (not optional, optional, False)
    return block


def _computed(types: Json, class_fqn: str, block: Block) -> None:
    for prop in types[class_fqn].get("properties", []):
        name = prop["name"]
        if prop.get("static") or name.endswith("Input") or name == "fqn":
            continue
        terraform_name = snake(name)
        if terraform_name in block.attributes or terraform_name in block.blocks:
            continue
        block.attributes[terraform_name] = (False, False, True)
    if "id" not in block.attributes:
        block.attributes["id"] = (False, False, True)
    elif block.attributes["id"][1]:  # optional id: computed when not set (never for a required one)
        block.attributes["id"] = (False, True, True)


def build(document: Json) -> ProviderSchema:
    types: Json = document["types"]
    resources: dict[str, Block] = {}
    data_sources: dict[str, Block] = {}
    provider = Block()
    for fqn, item in types.items():
        base = item.get("base")
        if base not in (
            "cdktf.TerraformResource",
            "cdktf.TerraformDataSource",
            "cdktf.TerraformProvider",
        ):
            continue
        config = f"{fqn}Config"
        if config not in types:
            continue
        block = _block(types, config, skip=META_ARGUMENTS)
        if base == "cdktf.TerraformProvider":
            block.attributes.setdefault("alias", (False, True, False))
            provider = block
            continue
        link = TYPE_LINK.search(item["docs"]["summary"])
        assert link, f"no Terraform type in the docs of {fqn}"
        _computed(types, fqn, block)
        (resources if base == "cdktf.TerraformResource" else data_sources)[link.group(3)] = block
    return ProviderSchema(provider=provider, resources=resources, data_sources=data_sources)


def _encode_block(block: Block) -> bytes:
    out = bytearray()
    for name, (required, optional, computed) in sorted(block.attributes.items()):
        attribute = (
            proto.string(1, name)
            + proto.raw(2, DYNAMIC)
            + proto.boolean(4, required)
            + proto.boolean(5, optional)
            + proto.boolean(6, computed)
        )
        out += proto.message(2, attribute)
    for name, nested in sorted(block.blocks.items()):
        nested_block = (
            proto.string(1, name)
            + proto.message(2, _encode_block(nested))
            + proto.varint_field(3, NESTING_LIST)
        )
        out += proto.message(3, nested_block)
    return bytes(out)


def _schema(block: Block) -> bytes:
    return proto.message(2, _encode_block(block))


def _entries(field_number: int, blocks: dict[str, Block]) -> Iterator[bytes]:
    for name, block in sorted(blocks.items()):
        yield proto.message(field_number, proto.string(1, name) + proto.message(2, _schema(block)))


def get_provider_schema_response(schema: ProviderSchema) -> bytes:
    """tfplugin5 ``GetProviderSchema.Response``: provider (1), resource_schemas (2),
    data_source_schemas (3); maps are repeated key/value entries on the wire."""
    out = bytearray(proto.message(1, _schema(schema.provider)))
    for entry in _entries(2, schema.resources):
        out += entry
    for entry in _entries(3, schema.data_sources):
        out += entry
    return bytes(out)

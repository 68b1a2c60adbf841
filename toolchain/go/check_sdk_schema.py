#!/usr/bin/env python3
"""Compare a generated Pulumi schema with an installed Python SDK.

    check_sdk_schema.py SCHEMA_JSON PYTHON_PACKAGE_DIR [TOKEN_PREFIX_FILTER...]

For every resource / function token the SDK references, and every object type
class in the SDK (`_inputs.py` / `outputs.py`), list the wire property names the
SDK uses that the schema lacks, plus properties whose shape differs (object vs
list). Prints a report; exit code 1 when something the SDK sends or reads is
missing from the schema.
"""
import ast
import json
import pathlib
import re
import sys


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def class_props(cls: ast.ClassDef):
    """Wire names of the @pulumi.getter properties of a class, with an
    'is a Sequence' flag taken from the return annotation."""
    props = {}
    for node in cls.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            wire = None
            if isinstance(dec, ast.Attribute) and dec.attr == "getter":
                wire = node.name
            elif isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "getter":
                wire = node.name
                for kw in dec.keywords:
                    if kw.arg == "name":
                        wire = kw.value.value
            if wire is None:
                continue
            ann = ast.unparse(node.returns) if node.returns else ""
            props[wire] = "Sequence[" in ann
    return props


def main() -> int:
    schema = json.load(open(sys.argv[1]))
    pkg = pathlib.Path(sys.argv[2])
    name = schema["name"]
    missing = 0
    lines = []

    def schema_obj(tok, kind):
        if tok == "pulumi:providers:" + name:
            return schema.get("provider")
        table = {"resource": schema.get("resources", {}), "function": schema.get("functions", {}),
                 "type": schema.get("types", {})}[kind]
        return table.get(tok)

    def props_of(obj, kind):
        if kind == "function":
            out = {}
            for part in ("inputs", "outputs"):
                out.update((obj.get(part) or {}).get("properties", {}))
            return out
        out = dict(obj.get("properties", {}))
        out.update(obj.get("inputProperties", {}))
        return out

    def is_list(p):
        return p.get("type") == "array"

    def compare(tok, kind, sdk_props, where):
        nonlocal missing
        obj = schema_obj(tok, kind)
        if obj is None:
            lines.append(f"MISSING {kind} {tok} (used by {where})")
            missing += 1
            return
        have = props_of(obj, kind)
        for wire, seq in sorted(sdk_props.items()):
            if wire in ("id", "urn"):
                continue
            if wire not in have:
                lines.append(f"  {tok}: property {wire!r} missing from schema ({where})")
                missing += 1
            elif seq != is_list(have[wire]) and have[wire].get("type") != "object":
                lines.append(f"  {tok}: property {wire!r} shape differs: sdk list={seq} schema={have[wire]}")
                missing += 1

    # Resources and functions: token strings in each module.
    for f in sorted(pkg.glob("*.py")):
        if f.name.startswith("_"):
            continue
        text = f.read_text()
        tree = ast.parse(text)
        toks = set(re.findall(r"""['"](%s:[^'"]+)['"]""" % re.escape(name), text))
        toks |= set(re.findall(r"""['"](pulumi:providers:%s)['"]""" % re.escape(name), text))
        for tok in toks:
            kind = "function" if re.search(r":get[A-Z]", tok) else "resource"
            props = {}
            for cls in tree.body:
                if isinstance(cls, ast.ClassDef):
                    props.update(class_props(cls))
            compare(tok, kind, props, f.name)
    # Object types.
    for f in ("_inputs.py", "outputs.py"):
        path = pkg / f
        if not path.exists():
            continue
        for cls in ast.parse(path.read_text()).body:
            if not isinstance(cls, ast.ClassDef) or cls.name.endswith("ArgsDict"):
                continue
            base = cls.name[:-4] if cls.name.endswith("Args") else cls.name
            def same(a, b):
                return a[:1].lower() + a[1:] == b[:1].lower() + b[1:]
            cands = [t for t in schema.get("types", {}) if same(t.split(":")[-1], base)]
            if not cands:
                # functions' result types are named <Fn>Result in python, <Fn> in schema
                alt = base[:-6] if base.endswith("Result") else None
                cands = [t for t in schema.get("types", {}) if alt and same(t.split(":")[-1], alt)]
            if not cands:
                lines.append(f"MISSING type for python class {cls.name} ({f})")
                missing += 1
                continue
            compare(cands[0], "type", class_props(cls), f)
    # Stack config variables (config/vars.py).
    vars_py = pkg / "config" / "vars.py"
    if vars_py.exists():
        have = schema.get("config", {}).get("variables", {})
        for key in re.findall(r"__config__\.get\w*\('([^']+)'\)", vars_py.read_text()):
            if key not in have:
                lines.append(f"  config: variable {key!r} missing from schema")
                missing += 1
    print("\n".join(lines) if lines else "schema covers every property the SDK uses")
    print(f"{missing} problem(s)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

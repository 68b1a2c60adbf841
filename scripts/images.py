"""`scripts/images.sh save`: write declared images into one file for an air-gapped registry.

    python scripts/images.py save --config FILE|- OUT.tar   # `pulumi config --json --show-secrets` of a stack
    python scripts/images.py save --list LIST OUT.tar       # a YAML/JSON list like the `images` setting,
                                                            # or one image reference per line

The file is an OCI image layout in a tar (`oci-layout`, `index.json`, `blobs/sha256/...`), every
manifest as the source served it, so digests stay the source's; each entry is named by its source
reference (`io.containerd.image.name`), which is what an `images` entry with `bundle: OUT.tar`
looks up. Credentials for the sources come from the stack's `sourceRegistries` (or, with `--list`,
a `sourceRegistries` key beside `images` in the file); nothing secret is printed.

Standard output gets one `source@digest` line per image saved, nothing else: the digest-pinned
sources to put in the air-gapped side's `images` entries (a pinned entry takes only the image saved
from that digest). Progress and errors go to standard error. The file is owner-only (0600).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.images import parse_images, parse_source_registries
from components.oci import Descriptor, Reference, RegistryError, Source
from components.oci_layout import write_bundle
from components.seeded_images import image_props, opened_source, resolve, source_auth
from components.setting_keys import PROJECT


def config_settings(document: dict[str, Any]) -> dict[str, Any]:
    """`images` and `sourceRegistries` from `pulumi config --json --show-secrets` output."""
    found = {}
    for name in ("images", "sourceRegistries"):
        entry = document.get(f"{PROJECT}:{name}")
        if entry is None:
            continue
        value = entry.get("objectValue")
        if value is None:
            value = json.loads(entry["value"]) if isinstance(entry.get("value"), str) else entry.get("value")
        found[name] = value
    return found


def list_settings(text: str) -> dict[str, Any]:
    """A list file: YAML/JSON (a list of entries, or {images, sourceRegistries}) or one reference per line."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        document = None
    if isinstance(document, dict):
        return {k: v for k, v in document.items() if k in ("images", "sourceRegistries")}
    if isinstance(document, list):
        return {"images": document}
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return {"images": [{"source": line} for line in lines]}


def pinned(reference: Reference, descriptor: Descriptor) -> str:
    """`reference` pinned to the digest saved for it (`host/repo:tag@sha256:...`), as an `images` source."""
    return str(replace(reference, digest=descriptor.digest))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="images.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    save = sub.add_parser("save", help="write the images into an OCI image layout tar")
    given = save.add_mutually_exclusive_group(required=True)
    given.add_argument("--config", help="a stack's `pulumi config --json --show-secrets` (- for stdin)")
    given.add_argument("--list", help="a list of images")
    save.add_argument("out", type=Path)
    args = parser.parse_args(argv)

    if args.config is not None:
        text = sys.stdin.read() if args.config == "-" else Path(args.config).read_text()
        settings, base = config_settings(json.loads(text)), Path.cwd()
    else:
        settings, base = list_settings(Path(args.list).read_text()), Path(args.list).resolve().parent
    problems: list[str] = []

    def problem(path: str, _value: Any, message: str) -> None:
        problems.append(f"{path}: {message}")  # never the value: it may be a password

    images = parse_images(settings.get("images"), base, problem)
    sources = parse_source_registries(settings.get("sourceRegistries"), problem)
    if not images and not problems:
        problems.append("images: no image declared")
    if problems:
        print("images.sh: nothing saved:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        with ExitStack() as opened:
            chosen: list[tuple[Reference, Source, Descriptor]] = []
            for image in images:
                # The same steps as `pulumi up` (components/seeded_images.py): resolve, then read.
                props = {**image_props(image), "sourceAuth": source_auth(image, sources)}
                found = resolve(props)
                props |= {"sourceDigest": found.digest, "mediaType": found.media_type}
                source, descriptor = opened.enter_context(opened_source(props))
                chosen.append((image.source, source, descriptor))
            stats = write_bundle(args.out, chosen, log=lambda line: print(f"images.sh: {line}", file=sys.stderr))
    except (RegistryError, OSError) as err:  # OSError: the output's folder, a full disk
        print(f"images.sh: nothing saved: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    for reference, _, descriptor in chosen:
        print(pinned(reference, descriptor))
    print(
        f"images.sh: saved {len(images)} image(s) to {args.out}: {stats.manifests} manifest(s), {stats.blobs_sent} blob(s), "
        f"{stats.bytes_sent / 1e6:.1f} MB in {seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

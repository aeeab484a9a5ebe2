#!/usr/bin/env python3
"""Fails when modules of a crate import each other, directly or round a
longer loop: imports must flow one way, so each type needs one home.

Every module of every crate under crates/ and services/ is a node (src/a.rs
and src/a/b.rs are `a` and `a::b`); a path through `crate::` or `super::` in
a module's file is an edge to the module it names. Edges between a module and
its own descendants or ancestors are left out (a parent declaring its
children is not a loop), so the check covers both the top-level modules and
siblings within one. Comments and strings are ignored; `pub use` re-exports
in lib.rs are followed to the module that defines the name."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDENT = re.compile(r"\w+")


def without_comments_and_strings(text):
    """Doc comments stay: a link to `crate::x` in one ties the modules too."""
    text = re.sub(r"//(?![/!])[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def paths_after(text, keyword):
    """Each path that follows `keyword::`, with `{a::b, c}` groups expanded."""
    found = []
    for match in re.finditer(r"\b" + keyword + r"::((?:super::)*)", text):
        prefix = "super::" + match.group(1) if keyword == "super" else ""
        found.extend(prefix + path for path in expand(text, match.end()))
    return found


def expand(text, at):
    if text[at:at + 1] != "{":
        match = re.match(r"[\w:]*\w", text[at:])
        return [match.group(0)] if match else []
    depth, item, items = 0, "", []
    for ch in text[at:]:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and ch == ",":
            items.append(item)
            item = ""
        else:
            item += ch
    items.append(item)
    return [re.sub(r"\s+", "", i).split("{")[0] for i in items if i.strip()]


def modules_of(src):
    """module path -> file, for every module file of a crate."""
    modules = {}
    for folder, _, files in os.walk(src):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), src)
            if not name.endswith(".rs") or rel in ("lib.rs", "main.rs") or rel.startswith("bin"):
                continue
            modules["::".join(rel[:-3].split(os.sep))] = os.path.join(folder, name)
    return modules


def reexports(src):
    lib = os.path.join(src, "lib.rs")
    if not os.path.exists(lib):
        return {}
    text = without_comments_and_strings(open(lib).read())
    names = {}
    for match in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+(\w+)::([^;]+);", text):
        for name in IDENT.findall(match.group(2)):
            names[name] = match.group(1)
    return names


def target(module, path, modules, names):
    """The module a path from `module` names, or None."""
    parts = path.split("::")
    if parts[0] == "super":
        base = module.split("::")
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
        parts = base + parts
    elif parts[0] in names and parts[0] not in modules:
        parts = [names[parts[0]]]
    for length in range(len(parts), 0, -1):
        candidate = "::".join(parts[:length])
        if candidate in modules:
            return candidate
    return None


def related(a, b):
    return a == b or a.startswith(b + "::") or b.startswith(a + "::")


def loops(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main():
    failed = False
    checked = 0
    for group in ("crates", "services"):
        for crate in sorted(os.listdir(os.path.join(ROOT, group))):
            src = os.path.join(ROOT, group, crate, "src")
            if not os.path.isdir(src):
                continue
            modules, names = modules_of(src), reexports(src)
            edges = {module: set() for module in modules}
            for module, path in modules.items():
                text = without_comments_and_strings(open(path).read())
                for used in paths_after(text, "crate") + paths_after(text, "super"):
                    other = target(module, used, modules, names)
                    if other and not related(module, other):
                        edges[module].add(other)
            # a module stands for its descendants too: a::x -> b and b -> a::y loop
            for module in modules:
                for other in list(edges[module]):
                    for parent in ancestors(module):
                        if not related(parent, other):
                            edges.setdefault(parent, set()).add(other)
            checked += len(modules)
            for component in loops(edges):
                failed = True
                pairs = [f"{a} -> {b}" for a in component for b in sorted(edges[a]) if b in component]
                print(f"module-cycles: {crate}: {', '.join(pairs)}", file=sys.stderr)
    if failed:
        sys.exit(1)
    print(f"module-cycles: passed: {checked} modules, imports flow one way", file=sys.stderr)


def ancestors(module):
    parts = module.split("::")
    return ["::".join(parts[:i]) for i in range(1, len(parts))]


if __name__ == "__main__":
    main()

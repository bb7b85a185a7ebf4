"""Generates (schema, document) pairs of the JSON Schema subset StateCoordinator supports and
validates each with Python's jsonschema (Draft 2020-12): one JSON line per pair,
{"schema", "document", "valid"}. Usage: schema_corpus.py SEED COUNT"""
import json, random, sys
from jsonschema import Draft202012Validator

TYPES = ["null", "boolean", "object", "array", "number", "string", "integer"]
NAMES = ["a", "b", "halt", "max", "\u00e9", "e\u0301"]  # é precomposed and decomposed: two names

def value(r, depth=0):
    kinds = ["null", "bool", "int", "float", "whole float", "string", "array", "object"]
    kind = r.choice(kinds if depth < 3 else kinds[:6])
    if kind == "null": return None
    if kind == "bool": return r.random() < 0.5
    if kind == "int": return r.choice([0, 1, -1, 2, 3, 5, 10, 100, -7, r.randint(-1000, 1000), 2**62, -2**62,
                                       2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64, 2**53 + 1])
    if kind == "float": return r.choice([0.5, -0.5, 1.5, 2.25, 1e-3, r.uniform(-100, 100)])
    if kind == "whole float": return float(r.randint(-5, 5))
    if kind == "string": return "".join(r.choice(["a", "b", "\u00e9", "e\u0301", "\u20ac", "\U0001F600"]) for _ in range(r.randint(0, 5)))
    if kind == "array": return [value(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {r.choice(NAMES): value(r, depth + 1) for _ in range(r.randint(0, 3))}

def number(r):
    return r.choice([0, 1, -1, 2, 5, 10, 2.5, -0.5, 3.0, r.randint(-20, 20), 2**63 - 1, 2**63, -2**63 - 1,
                     9.3e18, -9.3e18, float(2**53), 2**53 + 1])

def schema(r, depth=0):
    if r.random() < 0.07: return r.random() < 0.6
    s = {}
    if r.random() < 0.6:
        s["type"] = r.choice(TYPES) if r.random() < 0.8 else r.sample(TYPES, r.randint(1, 3))
    if r.random() < 0.12: s["enum"] = [value(r, 2) for _ in range(r.randint(1, 4))]
    if r.random() < 0.08: s["const"] = value(r, 2)
    if depth < 3 and r.random() < 0.4:
        s["properties"] = {name: schema(r, depth + 1) for name in r.sample(NAMES, r.randint(1, 3))}
    if r.random() < 0.3: s["required"] = r.sample(NAMES, r.randint(0, 2))
    if depth < 3 and r.random() < 0.25:
        s["additionalProperties"] = (r.random() < 0.5) if r.random() < 0.6 else schema(r, depth + 1)
    if depth < 3 and r.random() < 0.3: s["items"] = schema(r, depth + 1)
    for keyword in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]:
        if r.random() < 0.12: s[keyword] = number(r)
    for keyword in ["minLength", "maxLength", "minItems", "maxItems"]:
        if r.random() < 0.12: s[keyword] = r.randint(0, 4)
    if r.random() < 0.05: s["title"] = "t"
    if r.random() < 0.05: s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return s

def aiming_at(r, s, depth=0):
    """A document built to satisfy s, more or less: both outcomes then occur often."""
    if s is True or s is False or not isinstance(s, dict): return value(r, depth)
    if "const" in s and r.random() < 0.7: return s["const"]
    if "enum" in s and r.random() < 0.7: return r.choice(s["enum"])
    t = s.get("type")
    t = r.choice(t) if isinstance(t, list) else t
    if t == "object" or (t is None and "properties" in s):
        doc = {name: aiming_at(r, sub, depth + 1) for name, sub in s.get("properties", {}).items() if r.random() < 0.8}
        if r.random() < 0.3: doc[r.choice(NAMES)] = value(r, depth + 1)
        return doc
    if t == "array" or (t is None and "items" in s):
        return [aiming_at(r, s.get("items", True), depth + 1) for _ in range(r.randint(0, 4))]
    if t == "integer": return r.randint(-12, 12) if r.random() < 0.8 else float(r.randint(-3, 3))
    if t == "number": return r.choice([r.randint(-12, 12), r.uniform(-12, 12)])
    if t == "string": return "".join(r.choice(["a", "b", "\u00e9", "e\u0301", "\U0001F600"]) for _ in range(r.randint(0, 5)))
    if t == "boolean": return r.random() < 0.5
    if t == "null": return None
    return value(r, depth)

def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    r = random.Random(seed)
    written = 0
    while written < count:
        s = schema(r)
        Draft202012Validator.check_schema(s if not isinstance(s, bool) else {})
        validator = Draft202012Validator(s)
        for document in [aiming_at(r, s), aiming_at(r, s), value(r)]:
            print(json.dumps({"schema": s, "document": document, "valid": validator.is_valid(document)}, ensure_ascii=False))
            written += 1

main()

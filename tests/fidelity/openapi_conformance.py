"""Check live answers of a freebusy host against the OpenAPI document it serves.

Usage: openapi_conformance.py <api base URL>
Each request below is sent; its answer must have a status and content type the document lists
for that operation, and a JSON body that validates against the schema given there
(JSON Schema 2020-12, as OpenAPI 3.1 specifies). Prints one line per check; exits 1 on the
first mismatch.
"""
import json
import sys
import urllib.error
import urllib.request

import jsonschema

base = sys.argv[1].rstrip("/")
spec = json.load(urllib.request.urlopen(base + "/openapi.json"))
assert spec["openapi"].startswith("3.1"), spec["openapi"]

WINDOW = "start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z"
PEOPLE = "adele.vance@contoso.com,room.adams@contoso.com,nobody@contoso.com"
CHECKS = [
    ("GET", "/v1/freebusy", f"/v1/freebusy?mailboxes={PEOPLE}&{WINDOW}", None),
    ("GET", "/v1/freebusy", f"/v1/freebusy?mailboxes={PEOPLE}&{WINDOW}&interval=60&details=true&upstream=true", None),
    ("GET", "/v1/freebusy", f"/v1/freebusy?mailboxes=not-an-address&{WINDOW}&interval=2", None),
    ("POST", "/v1/freebusy", "/v1/freebusy",
     {"mailboxes": ["megan.bowen@contoso.com"], "start": "2026-03-23T00:00:00Z", "end": "2026-03-24T00:00:00Z", "interval": 30}),
    ("GET", "/v1/tenants/{tenant}/freebusy", f"/v1/tenants/contoso/freebusy?mailboxes={PEOPLE}&{WINDOW}", None),
    ("GET", "/v1/tenants/{tenant}/freebusy", f"/v1/tenants/elsewhere/freebusy?mailboxes={PEOPLE}&{WINDOW}", None),
    ("GET", "/v1/directory", "/v1/directory?q=conference&kind=room", None),
    ("GET", "/v1/directory", "/v1/directory?kind=planet", None),
    ("POST", "/v1/availability", "/v1/availability",
     {"start": "2026-03-23T00:00:00Z", "end": "2026-03-25T00:00:00Z", "duration": 30,
      "participants": [{"mailboxes": ["adele.vance@contoso.com", "nobody@contoso.com"]}, {"mailboxes": ["room.adams@contoso.com"], "required": 1}]}),
    ("POST", "/v1/availability", "/v1/availability",
     {"start": "2026-03-23T00:00:00Z", "end": "2026-03-25T00:00:00Z", "duration": 30,
      "participants": [{"mailboxes": ["adele.vance@contoso.com"]}, {"mailboxes": ["room.adams@contoso.com"], "required": 1}], "timeZone": "Europe/Berlin"}),
    ("POST", "/v1/availability", "/v1/availability", {"duration": 2}),
    ("GET", "/readyz", "/readyz", None),
    ("GET", "/healthz", "/healthz", None),
    ("GET", "/metrics", "/metrics", None),
]

for method, template, path, body in CHECKS:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        resp = urllib.request.urlopen(req)
    except urllib.error.HTTPError as e:
        resp = e
    status = str(resp.status)
    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
    payload = resp.read()
    operation = spec["paths"][template][method.lower()]
    documented = operation["responses"].get(status)
    if documented is None:
        sys.exit(f"{method} {path}: status {status} is not documented for {template}")
    media = documented.get("content", {}).get(ctype)
    if media is None:
        sys.exit(f"{method} {path}: content type {ctype} is not documented for {template} {status}")
    if ctype.endswith("json") and template != "/openapi.json":
        schema = dict(media["schema"], components=spec["components"])
        try:
            jsonschema.Draft202012Validator(schema).validate(json.loads(payload))
        except jsonschema.ValidationError as e:
            sys.exit(f"{method} {path}: {e.message} at {list(e.absolute_path)}")
    print(f"ok {method} {path} -> {status} {ctype}")

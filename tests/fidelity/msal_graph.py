"""Microsoft's MSAL for Python (PyPI), unchanged, against the emulator over HTTPS.

Usage: python3 msal_graph.py <emulator-https-url> <tenant> <client-id> <client-secret> <ca.pem>
MSAL is configured only through its documented options: an authority on the emulator,
instance_discovery=False (there is no login.microsoftonline.com here), and an HTTP session that
trusts the emulator's test CA. It discovers the endpoints from the tenant's OpenID configuration,
gets app-only tokens, and meets the documented errors; the token then calls getSchedule exactly as
the Graph docs' example does (PascalCase names, interval as a string, Prefer time zone).
Prints one JSON object with what it saw.
"""

import json
import sys

import msal
import requests

base, tenant, client_id, secret, ca = sys.argv[1:6]
session = requests.Session()
session.verify = ca
# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override `verify`.
session.trust_env = False


def app(credential):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{base}/{tenant}",
        http_client=session,
        instance_discovery=False,
    )


out = {}
ok = app(secret).acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
out["token_type"] = ok.get("token_type")
out["has_access_token"] = bool(ok.get("access_token"))
bad = app("not-the-secret").acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
out["wrong_secret"] = {"error": bad.get("error"), "error_codes": bad.get("error_codes")}
unknown = msal.ConfidentialClientApplication(
    "00000000-0000-0000-0000-000000000000", client_credential=secret, authority=f"{base}/{tenant}",
    http_client=session, instance_discovery=False,
).acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
out["unknown_app"] = {"error": unknown.get("error"), "error_codes": unknown.get("error_codes")}

# The getSchedule request from the Graph documentation's example.
resp = session.post(
    f"{base}/v1.0/users/adele.vance@contoso.com/calendar/getSchedule",
    headers={
        "Authorization": f"Bearer {ok['access_token']}",
        "Prefer": 'outlook.timezone="Pacific Standard Time"',
        "Content-Type": "application/json",
    },
    data=json.dumps({
        "Schedules": ["adele.vance@contoso.com", "nobody@contoso.com"],
        "StartTime": {"dateTime": "2026-03-23T00:00:00", "timeZone": "Pacific Standard Time"},
        "EndTime": {"dateTime": "2026-03-24T00:00:00", "timeZone": "Pacific Standard Time"},
        "availabilityViewInterval": "60",
    }),
)
out["get_schedule_status"] = resp.status_code
out["schedules"] = resp.json().get("value")
print(json.dumps(out))
